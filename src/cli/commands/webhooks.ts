// `drover webhook add|list|remove|deliveries`: be told by HTTP when your jobs end.
import type { Command } from 'commander';
import { positiveInt } from '../parse.js';
import { table } from '../format.js';
import { signedInClient } from '../session.js';
import type { DeliveryView, WebhookView } from '../../wire/webhooks.js';

const eventList = (text: string): string[] =>
  text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');

export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('HTTP callbacks when your jobs end (signed with HMAC-SHA256; see docs/api.md)');
  webhook
    .command('add <url>')
    .description('POST to URL when one of your jobs ends; prints the signing secret once')
    .option('--events <list>', 'which ends: job.done,job.error,job.canceled (default all)', eventList)
    .option('--json', 'machine-readable output (id and secret)')
    .action(async (url: string, opts: { events?: string[]; json?: boolean }) => {
      const client = await signedInClient();
      const created = await client.json<WebhookView & { secret: string }>('POST', '/webhooks', { url, ...(opts.events ? { events: opts.events } : {}) });
      if (opts.json) {
        console.log(JSON.stringify(created, null, 2));
        return;
      }
      console.log(`added webhook ${created.id} for ${created.events.join(', ')}`);
      console.log('its signing secret is shown this once (X-Drover-Signature: sha256=HMAC-SHA256 of the body with it):');
      console.log(created.secret);
    });
  webhook
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { webhooks } = await client.json<{ webhooks: WebhookView[] }>('GET', '/webhooks');
      if (opts.json) console.log(JSON.stringify(webhooks, null, 2));
      else if (webhooks.length === 0) console.log('no webhooks');
      else console.log(table(['ID', 'EVENTS', 'CREATED', 'URL'], webhooks.map((w) => [w.id, w.events.join(','), w.createdAt, w.url])));
    });
  webhook
    .command('remove <id>')
    .description('stop calling it (its pending deliveries are dropped)')
    .action(async (id: string) => {
      const client = await signedInClient();
      await client.json('DELETE', `/webhooks/${encodeURIComponent(id)}`);
      console.log(`removed webhook ${id}`);
    });
  webhook
    .command('deliveries <id>')
    .description("a webhook's delivery log, newest first: each event, its tries and their answers")
    .option('--limit <n>', 'at most this many (default 100)', positiveInt('--limit'))
    .option('--json', 'machine-readable output (with every try)')
    .action(async (id: string, opts: { limit?: number; json?: boolean }) => {
      const client = await signedInClient();
      const { deliveries } = await client.json<{ deliveries: DeliveryView[] }>('GET', `/webhooks/${encodeURIComponent(id)}/deliveries${opts.limit ? `?limit=${opts.limit}` : ''}`);
      if (opts.json) console.log(JSON.stringify(deliveries, null, 2));
      else if (deliveries.length === 0) console.log('no deliveries yet');
      else
        console.log(
          table(
            ['DELIVERY', 'EVENT', 'JOB', 'STATUS', 'TRIES', 'LAST ANSWER', 'NEXT TRY'],
            deliveries.map((d) => [d.id, d.event, d.jobId, d.status, d.attempts, d.lastError ?? (d.lastStatus !== null ? String(d.lastStatus) : '-'), d.nextAttemptAt ?? '-']),
          ),
        );
    });
}
