// `drover worker list`.
import type { Command } from 'commander';
import { bytes, table } from '../format.js';
import { CliError, signedInClient } from '../session.js';
import type { WorkerDetail, WorkerLabels, WorkerList, WorkerView } from '../../wire/workers.js';

/** What the helpers below read of an agent, in the list or on its own. */
type Worker = Pick<WorkerView, 'sandbox' | 'limits'>;

/**
 * What network an agent's tasks get. Containers follow the job everywhere; host tasks only where
 * they are confined: an unconfined agent cannot take the network away from them.
 */
function taskNetworkOf(w: Worker, policy: 'allow' | 'deny'): string {
  if (w.sandbox) return policy === 'deny' ? 'none' : 'per job';
  return policy === 'deny' ? 'containers: none; host: not cut' : 'containers: per job; host: always';
}

/** What an agent holds its host tasks to, in a few words: `memory, processes (cgroup v1)`, `none`. */
function limitsOf(w: Worker): string {
  if (!w.limits) return 'unknown';
  const what = [w.limits.memory ? 'memory' : '', w.limits.processes ? 'processes' : ''].filter(Boolean).join(', ');
  return what ? `${what} (${w.limits.how})` : 'none';
}

export function registerWorkerCommands(program: Command): void {
  const worker = program.command('worker').description('the farm\'s agents');
  for (const [action, what] of [
    ['pause', 'finish its running tasks and take no new ones until resumed (admins)'],
    ['resume', 'take tasks again after a pause (admins)'],
  ] as const) {
    worker
      .command(`${action} <name>`)
      .description(what)
      .action(async (name: string) => {
        const client = await signedInClient();
        await client.json('POST', `/workers/${encodeURIComponent(name)}/${action}`);
        console.log(`agent ${name} ${action === 'pause' ? 'paused: it finishes its running tasks and takes no new ones' : 'resumed'}`);
      });
  }
  worker
    .command('label <name> <labels...>')
    .description('set labels of an agent from the coordinator (key=value; key= removes), kept over its own --label (admins)')
    .action(async (name: string, pairs: string[]) => {
      const labels: Record<string, string> = {};
      for (const p of pairs) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new CliError(`worker label takes key=value (key= removes it), not "${p}"`);
        labels[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const client = await signedInClient();
      const answer = await client.json<WorkerLabels>('POST', `/workers/${encodeURIComponent(name)}/labels`, { labels });
      console.log(`agent ${name} labels: ${Object.entries(answer.labels).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`);
    });
  worker
    .command('remove <name>')
    .description('an offline agent leaves the list (admins)')
    .action(async (name: string) => {
      const client = await signedInClient();
      await client.json('DELETE', `/workers/${encodeURIComponent(name)}`);
      console.log(`agent ${name} removed`);
    });
  worker
    .command('view <name>')
    .description('one agent: its state and its recent tasks and failures')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      const client = await signedInClient();
      const w = await client.json<WorkerDetail>('GET', `/workers/${encodeURIComponent(name)}`);
      if (opts.json) return console.log(JSON.stringify(w, null, 2));
      console.log(`agent ${w.name}: ${w.status}${w.paused ? ', paused' : ''}   slots ${w.slots}   cores ${w.cores}   memory ${bytes(w.memoryBytes)}   running ${w.runningTasks}   last contact ${w.lastSeenAt}`);
      const labels = Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(' ');
      if (labels) console.log(`labels: ${labels}`);
      console.log(`host task limits: ${limitsOf(w)}`);
      for (const b of w.blockedBy) console.log(`blocklisted for job ${b.jobId} (${b.jobName}) after ${b.failures} failures`);
      console.log('');
      // Users see their own jobs' attempts only (the coordinator filters them).
      console.log(table(['JOB', 'TASK', 'ATTEMPT', 'STATE', 'STARTED', 'ERROR'], w.recent.map((t) => [t.jobId, t.index, t.attempt, t.status, t.startedAt, t.error])));
    });
  worker
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { workers, taskNetwork } = await client.json<WorkerList>('GET', '/workers');
      if (opts.json) return console.log(JSON.stringify(workers, null, 2));
      console.log(
        table(
          ['NAME', 'STATUS', 'SLOTS', 'CORES', 'MEMORY', 'CONFINED', 'TASK NETWORK', 'LIMITS', 'RUNNING', 'LAST CONTACT'],
          workers.map((w) => [w.name, w.paused ? `${w.status}, paused` : w.status, w.slots, w.cores, bytes(w.memoryBytes), w.sandbox ? 'yes' : 'no', taskNetworkOf(w, taskNetwork ?? 'allow'), limitsOf(w), w.runningTasks.length, w.lastSeenAt]),
        ),
      );
      console.log(
        taskNetwork === 'deny'
          ? 'task network: denied on this farm (drover server --task-network deny); jobs asking for it are refused'
          : 'task network: script tasks have it unless their job says --no-network; render tasks only when their job asks',
      );
    });
}
