// `drover storage` (admins): bytes per user, what collection would free; `storage collect` runs it.
import type { Command } from 'commander';
import type { CollectionReport, StorageView } from '../../wire/storage.js';
import { bytes, table } from '../format.js';
import { signedInClient } from '../session.js';

export function registerStorageCommands(program: Command): void {
  const storage = program
    .command('storage')
    .description("the farm's stored files (admins): bytes per user and what collection would free")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const view = await client.json<StorageView>('GET', '/storage');
      if (opts.json) return console.log(JSON.stringify(view, null, 2));
      console.log(`stored: ${view.total.blobs} file(s), ${bytes(view.total.bytes)}`);
      console.log(table(['USER', 'JOBS', 'ARCHIVED', 'FILES', 'BYTES'], view.users.map((u) => [u.user, u.jobs, u.archivedJobs, u.blobs, bytes(u.bytes)])));
      const c = view.collectable;
      console.log(`collection would free ${c.blobs} file(s), ${bytes(c.bytes)}${c.unrecordedFiles ? `, and ${c.unrecordedFiles} unrecorded file(s), ${bytes(c.unrecordedBytes)}` : ''} (files used in the last ${c.graceSeconds} s are kept); run it with: drover storage collect`);
      console.log(view.retention ? `retention: finished jobs are ${view.retention.action === 'delete' ? 'deleted' : 'archived'} ${view.retention.finishedDays} day(s) after they end` : 'retention: finished jobs are kept (drover server --retain-finished-days N)');
    });

  storage
    .command('collect')
    .description('remove now the files no job, upload or template refers to')
    .option('--json', 'machine-readable output')
    .action(async (own: { json?: boolean }) => {
      // `drover storage collect --json`: commander gives the flag to `storage`, which has it too.
      const opts = { json: own.json ?? (storage.opts() as { json?: boolean }).json };
      const client = await signedInClient();
      const report = await client.json<CollectionReport>('POST', '/storage/collect');
      if (opts.json) return console.log(JSON.stringify(report, null, 2));
      console.log(`removed ${report.blobs} file(s), ${bytes(report.bytes)}${report.unrecordedFiles ? `, and ${report.unrecordedFiles} unrecorded file(s), ${bytes(report.unrecordedBytes)}` : ''}`);
    });
}
