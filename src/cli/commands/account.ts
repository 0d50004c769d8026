// `drover login`, `logout`, `user …` and `version`.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ApiClient } from '../../client/api-client.js';
import { DROVER_VERSION } from '../../version.js';
import { clearConfigToken, loadConfig, saveConfig, serverUrls } from '../config.js';
import { table } from '../format.js';
import { signedInClient } from '../session.js';

async function ask(question: string, hidden = false): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.startsWith(question)) process.stderr.write(question);
    };
  }
  const answer = await rl.question(question);
  rl.close();
  if (hidden) process.stderr.write('\n');
  return answer;
}

interface UserView {
  id: string;
  name: string;
  admin: boolean;
  createdAt: string;
}

export function registerAccountCommands(program: Command): void {
  program
    .command('login')
    .description('sign in and keep an API token in ~/.config/drover/ (DROVER_CONFIG names another file)')
    .option('--server <urls>', 'the coordinator (several replicas, comma-separated, are tried in turn)')
    .option('-u, --user <name>', 'user name')
    .option('-p, --password <password>', 'password (asked when missing)')
    .action(async (opts: { server?: string; user?: string; password?: string }) => {
      const config = await loadConfig();
      const urls = serverUrls(opts.server, config);
      const server = urls.join(',');
      const username = opts.user ?? (await ask('user: '));
      const password = opts.password ?? (await ask('password: ', true));
      const client = new ApiClient(urls, { failover: true });
      const { token, user } = await client.json<{ token: string; user: UserView }>('POST', '/auth/login', { username, password });
      await saveConfig({ ...config, server, token, user: user.name });
      console.log(`signed in to ${server} as ${user.name}${user.admin ? ' (admin)' : ''}`);
    });

  program
    .command('logout')
    .description('revoke the saved token and forget it')
    .action(async () => {
      const client = await signedInClient();
      await client.json('POST', '/auth/logout').catch(() => undefined);
      await clearConfigToken();
      console.log('signed out');
    });

  const user = program.command('user').description('manage users (admins)');
  user
    .command('add <name>')
    .option('--password <password>', 'password (asked when missing)')
    .option('--admin', 'make the user an admin', false)
    .action(async (name: string, opts: { password?: string; admin: boolean }) => {
      const client = await signedInClient();
      const password = opts.password ?? (await ask(`password for ${name}: `, true));
      const created = await client.json<UserView>('POST', '/users', { name, password, admin: opts.admin });
      console.log(`created user ${created.name}${created.admin ? ' (admin)' : ''}`);
    });
  user
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { users } = await client.json<{ users: UserView[] }>('GET', '/users');
      if (opts.json) console.log(JSON.stringify(users, null, 2));
      else console.log(table(['NAME', 'ADMIN', 'CREATED'], users.map((u) => [u.name, u.admin ? 'yes' : 'no', u.createdAt])));
    });
  user
    .command('remove <name>')
    .action(async (name: string) => {
      const client = await signedInClient();
      await client.json('DELETE', `/users/${encodeURIComponent(name)}`);
      console.log(`removed user ${name}`);
    });

  program
    .command('version')
    .description('show the CLI version (and the coordinator version when reachable)')
    .action(async () => {
      console.log(`drover ${DROVER_VERSION}`);
      const config = await loadConfig();
      const client = new ApiClient(serverUrls(undefined, config), { failover: true });
      const server = await client.json<{ version: string }>('GET', '/version').catch(() => null);
      if (server) console.log(`coordinator ${server.version} at ${client.baseUrl}`);
    });
}
