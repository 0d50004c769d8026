// `drover worker list`.
import type { Command } from 'commander';
import { bytes, table } from '../format.js';
import { signedInClient } from '../session.js';

interface Worker {
  name: string;
  status: string;
  cores: number;
  memoryBytes: number;
  slots: number;
  sandbox: boolean;
  lastSeenAt: string;
  runningTasks: unknown[];
  labels: Record<string, string>;
}

export function registerWorkerCommands(program: Command): void {
  const worker = program.command('worker').description('the farm\'s agents');
  worker
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { workers } = await client.json<{ workers: Worker[] }>('GET', '/workers');
      if (opts.json) return console.log(JSON.stringify(workers, null, 2));
      console.log(
        table(
          ['NAME', 'STATUS', 'SLOTS', 'CORES', 'MEMORY', 'CONFINED', 'RUNNING', 'LAST CONTACT'],
          workers.map((w) => [w.name, w.status, w.slots, w.cores, bytes(w.memoryBytes), w.sandbox ? 'yes' : 'no', w.runningTasks.length, w.lastSeenAt]),
        ),
      );
    });
}
