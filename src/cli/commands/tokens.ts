// `drover token create|list|revoke`: named API tokens for scripts and CI.
import type { Command } from 'commander';
import { parseDurationText } from '../../core/duration-text.js';
import { table } from '../format.js';
import { CliError, signedInClient } from '../session.js';
import type { ApiTokenList, ApiTokenView, CreatedApiToken } from '../../wire/accounts.js';

/** `--expires 30d` as seconds; `never` (or no flag) is null: the token lasts until revoked. */
function expiresOption(text: string): number | null {
  if (text.trim().toLowerCase() === 'never') return null;
  const seconds = parseDurationText(text);
  if (seconds === null) throw new CliError(`--expires takes a length of time such as 90m, 12h, 30d or 4w (or "never"), not "${text}"`);
  return seconds;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('named API tokens for scripts and CI (use one as DROVER_TOKEN, or `drover login --token`)');
  token
    .command('create <name>')
    .description('make a token; it is printed once, only its digest is kept')
    .option('--expires <time>', 'how long it lasts: 90m, 12h, 30d, 4w or never (the default: until revoked)', expiresOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { expires?: number | null; json?: boolean }) => {
      const client = await signedInClient();
      const seconds = opts.expires ?? null;
      const created = await client.json<CreatedApiToken>('POST', '/tokens', { name, ...(seconds !== null ? { expiresInSeconds: seconds } : {}) });
      if (opts.json) {
        console.log(JSON.stringify({ id: created.id, name: created.name, token: created.token, createdAt: created.createdAt, expiresAt: created.expiresAt }, null, 2));
        return;
      }
      console.log(`created token ${created.name} (${created.id}), ${created.expiresAt ? `valid until ${created.expiresAt}` : 'valid until revoked'}`);
      console.log('it is shown this once; keep it somewhere safe:');
      console.log(created.token);
    });
  token
    .command('list')
    .description('your live named tokens (never their secret)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { tokens } = await client.json<ApiTokenList>('GET', '/tokens');
      if (opts.json) console.log(JSON.stringify(tokens, null, 2));
      else if (tokens.length === 0) console.log('no named tokens');
      else console.log(table(['NAME', 'ID', 'CREATED', 'EXPIRES'], tokens.map((t) => [t.name + (t.current ? ' (this one)' : ''), t.id, t.createdAt, t.expiresAt ?? 'never'])));
    });
  token
    .command('revoke <name-or-id>')
    .description('end a token at once: requests with it answer 401')
    .action(async (ref: string) => {
      const client = await signedInClient();
      const revoked = await client.json<ApiTokenView>('DELETE', `/tokens/${encodeURIComponent(ref)}`);
      console.log(`revoked token ${revoked.name} (${revoked.id})`);
    });
}
