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

/**
 * What network an agent's tasks get. Containers follow the job everywhere; host tasks only where
 * they are confined: an unconfined agent cannot take the network away from them.
 */
function taskNetworkOf(w: Worker, policy: 'allow' | 'deny'): string {
  if (w.sandbox) return policy === 'deny' ? 'none' : 'per job';
  return policy === 'deny' ? 'containers: none; host: not cut' : 'containers: per job; host: always';
}

export function registerWorkerCommands(program: Command): void {
  const worker = program.command('worker').description('the farm\'s agents');
  worker
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { workers, taskNetwork } = await client.json<{ workers: Worker[]; taskNetwork?: 'allow' | 'deny' }>('GET', '/workers');
      if (opts.json) return console.log(JSON.stringify(workers, null, 2));
      console.log(
        table(
          ['NAME', 'STATUS', 'SLOTS', 'CORES', 'MEMORY', 'CONFINED', 'TASK NETWORK', 'RUNNING', 'LAST CONTACT'],
          workers.map((w) => [w.name, w.status, w.slots, w.cores, bytes(w.memoryBytes), w.sandbox ? 'yes' : 'no', taskNetworkOf(w, taskNetwork ?? 'allow'), w.runningTasks.length, w.lastSeenAt]),
        ),
      );
      console.log(
        taskNetwork === 'deny'
          ? 'task network: denied on this farm (drover server --task-network deny); jobs asking for it are refused'
          : 'task network: script tasks have it unless their job says --no-network; render tasks only when their job asks',
      );
    });
}
