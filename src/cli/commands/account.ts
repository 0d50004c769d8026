// `drover login`, `logout`, `user …` and `version`.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ApiClient } from '../../client/api-client.js';
import { DROVER_VERSION } from '../../version.js';
import { clearConfigToken, loadConfig, saveConfig, serverUrls } from '../config.js';
import { table } from '../format.js';
import { OVER_BUDGET_ACTIONS } from '../../core/quotas.js';
import { hoursText } from '../../core/usage.js';
import { CliError, signedInClient } from '../session.js';
import type { LoginAnswer, UserList, UserQuotaView, UserView, UserWithQuota } from '../../wire/accounts.js';

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

export function registerAccountCommands(program: Command): void {
  program
    .command('login')
    .description('sign in and keep an API token in ~/.config/drover/ (DROVER_CONFIG names another file)')
    .option('--server <urls>', 'the coordinator (several replicas, comma-separated, are tried in turn)')
    .option('-u, --user <name>', 'user name')
    .option('-p, --password <password>', 'password (asked when missing)')
    .option('--token <token>', 'sign in with a named API token (`drover token create`) instead of a password')
    .action(async (opts: { server?: string; user?: string; password?: string; token?: string }) => {
      const config = await loadConfig();
      const urls = serverUrls(opts.server, config);
      const server = urls.join(',');
      if (opts.token !== undefined) {
        // Checked before it is saved: a mistyped or revoked token says so now, not at the next command.
        const client = new ApiClient(urls, { failover: true });
        client.token = opts.token.trim();
        const me = await client.json<UserView>('GET', '/auth/me');
        await saveConfig({ ...config, server, token: client.token, user: me.name });
        console.log(`signed in to ${server} as ${me.name}${me.admin ? ' (admin)' : ''} with an API token`);
        return;
      }
      const username = opts.user ?? (await ask('user: '));
      const password = opts.password ?? (await ask('password: ', true));
      const client = new ApiClient(urls, { failover: true });
      const { token, user } = await client.json<LoginAnswer>('POST', '/auth/login', { username, password });
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

  program
    .command('password')
    .description('change your own password (your other sign-ins end; named API tokens stay)')
    .option('--current <password>', 'your current password (asked when missing)')
    .option('--new <password>', 'the new password (asked when missing)')
    .action(async (opts: { current?: string; new?: string }) => {
      const client = await signedInClient();
      const current = opts.current ?? (await ask('current password: ', true));
      const password = opts.new ?? (await ask('new password: ', true));
      await client.json('POST', '/auth/password', { current, password });
      console.log('password changed; your other sign-ins have ended');
    });

  const user = program.command('user').description('manage users (admins)');
  user
    .command('set <name>')
    .description("change a user's role or set a new password (admins)")
    .option('--admin', 'make the user an admin')
    .option('--no-admin', 'make the user a plain user')
    .option('--password <password>', "set a new password (ends the user's sign-ins)")
    .option('--max-cores <n>', "cap the cores the user's running tasks hold together (none: no cap)", limitArg('--max-cores', true))
    .option('--monthly-core-hours <n>', 'core-hours the user may use per calendar month, UTC (none: no budget)', limitArg('--monthly-core-hours', false))
    .option('--over-budget <action>', 'once the month\'s budget is spent: hold (no new task starts; the default) or stop (running tasks are stopped too)', overBudgetArg)
    .action(async (name: string, opts: { admin?: boolean; password?: string; maxCores?: number | 'none'; monthlyCoreHours?: number | 'none'; overBudget?: string }) => {
      const limit = (v: number | 'none') => (v === 'none' ? null : v);
      const quota = {
        ...(opts.maxCores !== undefined ? { maxCores: limit(opts.maxCores) } : {}),
        ...(opts.monthlyCoreHours !== undefined ? { monthlyCoreHours: limit(opts.monthlyCoreHours) } : {}),
        ...(opts.overBudget !== undefined ? { overBudget: opts.overBudget } : {}),
      };
      if (opts.admin === undefined && opts.password === undefined && Object.keys(quota).length === 0) {
        throw new CliError('say what to change: --admin, --no-admin, --password, --max-cores, --monthly-core-hours or --over-budget');
      }
      const client = await signedInClient();
      const updated = await client.json<UserWithQuota>('PATCH', `/users/${encodeURIComponent(name)}`, {
        ...(opts.admin !== undefined ? { admin: opts.admin } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...quota,
      });
      const q = updated.quota;
      const limits = Object.keys(quota).length > 0 ? `, ${quotaText(q)}` : '';
      console.log(`user ${updated.name}: ${updated.admin ? 'admin' : 'user'}${opts.password !== undefined ? ', password set' : ''}${limits}`);
    });
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
      const { users } = await client.json<UserList>('GET', '/users');
      if (opts.json) console.log(JSON.stringify(users, null, 2));
      else {
        console.log(
          table(
            ['NAME', 'ADMIN', 'CORES (RUNNING/CAP)', 'CORE-H THIS MONTH (USED/BUDGET)', 'OVER BUDGET', 'CREATED'],
            users.map((u) => {
              const q = u.quota;
              return [
                u.name,
                u.admin ? 'yes' : 'no',
                `${q.runningCores}/${q.maxCores ?? '-'}`,
                `${hoursText(q.monthCoreSeconds)}/${q.monthlyCoreHours ?? '-'}${q.budgetSpent ? ' (spent)' : ''}`,
                q.monthlyCoreHours === null ? '-' : q.overBudget,
                u.createdAt,
              ];
            }),
          ),
        );
      }
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

/** `--max-cores 8`, `--monthly-core-hours 12.5`, or `none` (the limit is removed; kept as text: commander turns a null into ''). */
function limitArg(name: string, whole: boolean) {
  return (text: string): number | 'none' => {
    if (text === 'none') return 'none';
    const n = Number(text);
    if (whole ? !Number.isInteger(n) || n < 1 : !Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be ${whole ? 'a whole number of at least 1' : 'a number above 0'}, or none, not "${text}"`);
    return n;
  };
}

function overBudgetArg(text: string): string {
  if (!(OVER_BUDGET_ACTIONS as readonly string[]).includes(text)) throw new CliError(`--over-budget must be hold or stop, not "${text}"`);
  return text;
}

/** A user's limits in words, for `user set`. */
function quotaText(q: UserQuotaView): string {
  const cap = q.maxCores === null ? 'no core cap' : `at most ${q.maxCores} cores at once (${q.runningCores} running)`;
  const budget = q.monthlyCoreHours === null ? 'no monthly budget' : `${q.monthlyCoreHours} core-hours a month, then ${q.overBudget} (${hoursText(q.monthCoreSeconds)} used${q.budgetSpent ? ': spent' : ''})`;
  return `${cap}, ${budget}`;
}
