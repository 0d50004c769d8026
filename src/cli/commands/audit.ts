// `drover audit`: who did what, and when (admins).
import type { Command } from 'commander';
import { positiveInt } from '../parse.js';
import { table } from '../format.js';
import { signedInClient } from '../session.js';
import type { AuditEntry } from '../../wire/webhooks.js';


function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description("the farm's audit log, newest first: people's actions on jobs, users, tokens, webhooks and images (admins)")
    .option('--user <name>', "one user's actions")
    .option('--since <date>', 'from this date or time on (e.g. 2026-12-01 or 2026-12-01T09:00:00Z)')
    .option('--until <date>', 'before this date or time')
    .option('--action <action>', 'one kind of action, e.g. job.stop')
    .option('--limit <n>', 'at most this many entries (default 200)', positiveInt('--limit'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { user?: string; since?: string; until?: string; action?: string; limit?: number; json?: boolean }) => {
      const client = await signedInClient();
      const query = new URLSearchParams();
      for (const key of ['user', 'since', 'until', 'action'] as const) if (opts[key] !== undefined) query.set(key, opts[key]!);
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      const q = query.toString();
      const { entries } = await client.json<{ entries: AuditEntry[] }>('GET', `/audit${q ? `?${q}` : ''}`);
      if (opts.json) console.log(JSON.stringify(entries, null, 2));
      else if (entries.length === 0) console.log('no audit entries');
      else console.log(table(['TIME', 'USER', 'ACTION', 'TARGET', 'DETAILS'], entries.map((e) => [e.time, e.user, e.action, e.target, detailsText(e.details)])));
    });
}
