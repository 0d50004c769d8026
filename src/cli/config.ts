// The CLI's saved session: which coordinator, and the API token from `drover login` (mode 0600).
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors.js';

export interface CliConfig {
  server?: string;
  token?: string;
  user?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8686';

export function configPath(): string {
  return process.env.DROVER_CONFIG ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'drover', 'config.json');
}

export async function loadConfig(): Promise<CliConfig> {
  try {
    return JSON.parse(await readFile(configPath(), 'utf8')) as CliConfig;
  } catch {
    return {};
  }
}

export async function saveConfig(config: CliConfig): Promise<void> {
  const path = configPath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function clearConfigToken(): Promise<void> {
  const config = await loadConfig();
  delete config.token;
  delete config.user;
  if (Object.keys(config).length === 0) await rm(configPath(), { force: true });
  else await saveConfig(config);
}

/** The coordinator's URL as given (one, or several replicas comma-separated, as agents take them). */
export function serverUrl(flag: string | undefined, config: CliConfig): string {
  return serverUrls(flag, config).join(',');
}

/**
 * The coordinator replicas to try in turn, each checked: a typo says which URL is wrong in one
 * line instead of a stack trace from deep inside fetch.
 */
export function serverUrls(flag: string | undefined, config: CliConfig): string[] {
  const given = flag ?? (process.env.DROVER_SERVER || undefined) ?? config.server ?? DEFAULT_SERVER;
  const urls = given
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u !== '');
  if (urls.length === 0) throw new CliError('--server needs a URL (several replicas: URL1,URL2)');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new CliError(`"${u}" is not a coordinator URL (expected e.g. http://127.0.0.1:8686)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`"${u}" is not an http:// or https:// URL`);
  }
  return urls;
}
