// `drover up` (an embedded farm: coordinator plus local agents), `drover server` and `drover agent`.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { RunningCoordinator } from '../../coordinator/coordinator.js';
import { parseBlobsLocation } from '../../core/blobs-location.js';
import { defaultDataDir } from '../../data-dir.js';
import { parseInstanceCores } from '../../core/instance-types.js';
import { parseTaskNetworkPolicy, type TaskNetworkPolicy } from '../../core/task-network.js';
import { nonNegativeInt, parsePort, positiveInt, positiveNumber } from '../parse.js';
import { CliError } from '../session.js';
import type { AgentFlags } from '../../agent/config.js';

const BIN = fileURLToPath(new URL('../../../bin/drover.js', import.meta.url));



async function startFromOptions(opts: {
  port: number;
  data: string;
  host?: string;
  instanceCores?: string;
  tlsCert?: string;
  tlsKey?: string;
  db?: string;
  blobs?: string;
  joinTokenFile?: string;
  taskNetwork?: TaskNetworkPolicy;
  allowPrivateWebhooks?: boolean;
  retainFinishedDays?: number;
  retainAction?: string;
  collectGraceSeconds?: number;
}): Promise<RunningCoordinator> {
  if (opts.retainAction !== undefined && opts.retainAction !== 'archive' && opts.retainAction !== 'delete') throw new CliError(`--retain-action must be archive or delete, not "${opts.retainAction}"`);
  if (opts.retainAction !== undefined && opts.retainFinishedDays === undefined) throw new CliError('--retain-action goes with --retain-finished-days N');
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new CliError('--tls-cert and --tls-key go together');
  // Loaded here, not at the top: every other command (`drover agent`, `drover render`, `drover job …`)
  // starts without loading the coordinator, the store and their dependencies (a second, then).
  const { coordinatorConfig } = await import('../../coordinator/config.js');
  const config = coordinatorConfig({
    dataDir: opts.data,
    port: opts.port,
    ...(opts.tlsCert && opts.tlsKey ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.instanceCores ? { instanceCores: parseInstanceCores(opts.instanceCores) } : {}),
    ...(opts.db ? { database: opts.db } : {}),
    ...(opts.blobs ? { blobs: opts.blobs } : {}),
    ...(opts.joinTokenFile ? { joinTokenFile: opts.joinTokenFile } : {}),
    ...(opts.taskNetwork ? { taskNetwork: opts.taskNetwork } : {}),
    ...(opts.allowPrivateWebhooks ? { webhookAllowPrivate: true } : {}),
    ...(opts.retainFinishedDays !== undefined ? { retainFinishedDays: opts.retainFinishedDays } : {}),
    ...(opts.retainAction ? { retainAction: opts.retainAction as 'archive' | 'delete' } : {}),
    ...(opts.collectGraceSeconds !== undefined ? { collectGraceSeconds: opts.collectGraceSeconds } : {}),
  });
  const [{ startCoordinator }, { BlobStoreUnavailableError }, { isPostgresUrl }] = await Promise.all([
    import('../../coordinator/coordinator.js'),
    import('../../store/blob-store.js'),
    import('../../store/database.js'),
  ]);
  const coordinator = await startCoordinator(config).catch((err: unknown) => {
    // A bad blob store setting is the user's to fix: say what is wrong, without a stack.
    throw err instanceof BlobStoreUnavailableError ? new CliError(err.message) : err;
  });
  // Never print the database URL: it may carry a password.
  const store = config.database && isPostgresUrl(config.database) ? ', store: PostgreSQL' : '';
  const blobs = config.blobs ? `, blobs: ${coordinator.blobs}` : '';
  const network = config.taskNetwork === 'deny' ? ', task network: denied' : '';
  console.log(`Drover coordinator listening on ${coordinator.url} (data in ${config.dataDir}${store}${blobs}${network})`);
  if (coordinator.generatedAdminPassword) {
    console.log(`Created the user "admin" with the password: ${coordinator.generatedAdminPassword}`);
    console.log('  (shown only this once; set DROVER_ADMIN_PASSWORD before the first start to choose it)');
  }
  return coordinator;
}

/** Checks --blobs as it is parsed, so a malformed S3 URL is refused before anything starts. */
function blobsOption(value: string): string {
  try {
    parseBlobsLocation(value);
  } catch (err) {
    throw new CliError(`--blobs: ${(err as Error).message}`);
  }
  return value;
}

/** Checks --task-network as it is parsed. */
function taskNetworkOption(value: string): TaskNetworkPolicy {
  try {
    return parseTaskNetworkPolicy(value);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

const TASK_NETWORK_HELP = 'allow: script tasks have the network unless a job opts out (--no-network), render tasks only when asked; deny: no task has it, and jobs asking for it are refused';

function onSignals(handlers: { SIGINT: () => void; SIGTERM: () => void }): void {
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
}

export function registerFarmCommands(program: Command): void {
  program
    .command('up')
    .description('start an embedded farm: the coordinator (SQLite) and local agents')
    .option('--port <port>', 'HTTP port', parsePort, 8686)
    .option('--host <host>', 'address to listen on', undefined)
    .option('--data <dir>', 'where the farm keeps its data', defaultDataDir())
    .option('--agents <n>', 'local agents to start (the cores are shared among them)', positiveInt('--agents'), 1)
    .option('--instance-cores <spec>', 'cores per instance type, e.g. s=1,m=4,l=8,xl=16')
    .option('--no-sandbox', 'run host tasks without bubblewrap confinement')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM); see docs/guarantees.md')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--task-network <allow|deny>', TASK_NETWORK_HELP, taskNetworkOption)
    .option('--retain-finished-days <n>', 'archive (or delete, --retain-action) finished jobs this many days after they ended', positiveNumber('--retain-finished-days'))
    .option('--retain-action <archive|delete>', 'what --retain-finished-days does to old jobs (default archive)')
    .option('--collect-grace-seconds <s>', 'blobs claimed or uploaded this recently are never collected (default 3600, or DROVER_COLLECT_GRACE_SECONDS)', positiveNumber('--collect-grace-seconds'))
    .action(async (opts: { port: number; host?: string; data: string; agents: number; instanceCores?: string; sandbox: boolean; tlsCert?: string; tlsKey?: string; taskNetwork?: TaskNetworkPolicy; retainFinishedDays?: number; retainAction?: string; collectGraceSeconds?: number }) => {
      // One launcher per data directory; any agent still running in it was left by an earlier one.
      const [{ lockWorkDir, WorkDirBusyError }, { stopLeftoverAgents }] = await Promise.all([import('../../agent/work-dir-lock.js'), import('../leftover-agents.js')]);
      await mkdir(opts.data, { recursive: true, mode: 0o700 });
      await lockWorkDir(opts.data, 'up.lock', 'another drover up').catch((err: unknown) => {
        throw err instanceof WorkDirBusyError ? new CliError(err.message) : err;
      });
      await stopLeftoverAgents(join(opts.data, 'agents'), (line) => console.log(line));
      // One person's machine: their webhooks may call their own services on the loopback or LAN.
      const coordinator = await startFromOptions({ ...opts, allowPrivateWebhooks: true });
      const slots = Math.max(1, Math.floor(availableParallelism() / opts.agents));
      const children: ChildProcess[] = [];
      for (let i = 1; i <= opts.agents; i++) {
        const args = [BIN, 'agent', '--server', coordinator.url, '--slots', String(slots), '--name', `${hostname()}-${i}`, '--work-dir', join(opts.data, 'agents', String(i))];
        if (!opts.sandbox) args.push('--no-sandbox');
        const child = spawn(process.execPath, args, {
          // The IPC channel is the agent's tie to this launcher: it closes when this process dies,
          // however it dies, and the agent then stops.
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env: { ...process.env, DROVER_AGENT_TOKEN: coordinator.joinToken },
        });
        children.push(child);
      }
      console.log(`Started ${opts.agents} local agent(s) with ${slots} slot(s) each. Web app: ${coordinator.url}/  (Ctrl-C stops everything)`);
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals) => async () => {
        if (stopping) return;
        stopping = true;
        console.log('Stopping: agents give their running tasks back, then the coordinator stops.');
        await Promise.all(
          children.map(
            (c) =>
              new Promise<void>((resolve) => {
                if (c.exitCode !== null) return resolve();
                const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
                c.once('exit', () => {
                  clearTimeout(timer);
                  resolve();
                });
                c.kill(signal);
              }),
          ),
        );
        await coordinator.close();
        process.exit(0);
      };
      onSignals({ SIGINT: shutdown('SIGINT'), SIGTERM: shutdown('SIGINT') });
    });

  program
    .command('server')
    .description('start the coordinator alone; agents join it with the token it keeps in DIR/agent-token')
    .option('--port <port>', 'HTTP port', parsePort, 8686)
    .option('--host <host>', 'address to listen on (0.0.0.0 for agents on other machines)', undefined)
    .option('--data <dir>', 'where the coordinator keeps its data', defaultDataDir())
    .option('--instance-cores <spec>', 'cores per instance type, e.g. s=1,m=4,l=8,xl=16')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM); clients trust it via NODE_EXTRA_CA_CERTS')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--db <url>', 'the store: postgres://… (replicas share it; or DROVER_DB) or a SQLite file (default DIR/drover.sqlite)')
    .option('--blobs <dir|s3-url>', 'the blob store, shared by all replicas: a directory or s3://bucket/prefix (credentials and endpoint from AWS_* variables, see docs/scale-out.md; or DROVER_BLOBS; default DIR/blobs)', blobsOption)
    .option('--join-token-file <path>', 'the agent join token file, shared by all replicas (or DROVER_JOIN_TOKEN_FILE; default DIR/agent-token)')
    .option('--task-network <allow|deny>', TASK_NETWORK_HELP, taskNetworkOption)
    .option('--allow-private-webhooks', 'let webhooks call loopback and private addresses (refused by default; or DROVER_WEBHOOK_ALLOW_PRIVATE=1)')
    .option('--retain-finished-days <n>', 'archive (or delete, --retain-action) finished jobs this many days after they ended', positiveNumber('--retain-finished-days'))
    .option('--retain-action <archive|delete>', 'what --retain-finished-days does to old jobs (default archive)')
    .option('--collect-grace-seconds <s>', 'blobs claimed or uploaded this recently are never collected (default 3600, or DROVER_COLLECT_GRACE_SECONDS)', positiveNumber('--collect-grace-seconds'))
    .action(async (opts: { port: number; host?: string; data: string; instanceCores?: string; tlsCert?: string; tlsKey?: string; db?: string; blobs?: string; joinTokenFile?: string; taskNetwork?: TaskNetworkPolicy; retainFinishedDays?: number; retainAction?: string; collectGraceSeconds?: number; allowPrivateWebhooks?: boolean }) => {
      const coordinator = await startFromOptions(opts);
      console.log(`Agent join token in ${coordinator.joinTokenPath} (mode 0600): drover agent --server ${coordinator.url} --token "$(cat ${coordinator.joinTokenPath})"`);
      const stop = async () => {
        await coordinator.close();
        process.exit(0);
      };
      onSignals({ SIGINT: stop, SIGTERM: stop });
    });

  program
    .command('agent')
    .description('run an agent that takes tasks from a coordinator')
    .requiredOption('--server <urls>', 'coordinator URL (several, comma-separated, are tried in turn)')
    .option('--token <token>', 'the agent join token (or DROVER_AGENT_TOKEN)')
    .option('--slots <n>', 'cores this agent offers to tasks (default: all)', positiveInt('--slots'))
    .option('--name <name>', 'the name shown for this agent (default: this machine\'s host name)')
    .option('--work-dir <dir>', 'where the agent keeps its cache and task directories (default: DATA/agent)')
    .option('--label <k=v...>', 'labels describing this agent; jobs\' --require key=value match them')
    .option('--gpus <n>', 'GPUs this agent offers (default: as many as nvidia-smi lists, else 0)', nonNegativeInt('--gpus'))
    .option('--no-sandbox', 'run host tasks without bubblewrap confinement (trusted farms)')
    .option('--engine <engine>', 'container engine for jobs that name an image: docker or podman')
    .option('--prefetch <n>', 'tasks to hold besides the running ones, started the moment cores free (for short tasks; default 0)', nonNegativeInt('--prefetch'))
    .option('--task-processes <n>', 'processes and threads each task may run at once (default 4096)', positiveInt('--task-processes'))
    .action(async (flags: AgentFlags) => {
      const { agentConfig } = await import('../../agent/config.js');
      // Flags and DROVER_* variables, checked before anything starts (a bad one is a one-line error).
      const config = agentConfig(flags);
      // The token must not reach task processes: they get a fresh environment, and we drop it here too.
      delete process.env.DROVER_AGENT_TOKEN;
      const [{ Agent, AgentRefusedError }, { createLauncher }, { lockWorkDir, WorkDirBusyError }] = await Promise.all([
        import('../../agent/agent.js'),
        import('../../agent/launcher.js'),
        import('../../agent/work-dir-lock.js'),
      ]);
      await mkdir(config.workDir, { recursive: true, mode: 0o700 });
      // Before anything else touches the work directory (the launcher clears leftover containers there).
      await lockWorkDir(config.workDir).catch((err: unknown) => {
        throw err instanceof WorkDirBusyError ? new CliError(err.message) : err;
      });
      const launch = await createLauncher({
        sandbox: config.sandbox,
        workDir: config.workDir,
        ...(config.engine ? { engine: config.engine } : {}),
        ...(config.taskProcesses ? { taskProcesses: config.taskProcesses } : {}),
      });
      const agent = new Agent(config, {
        launcher: launch.launcher,
        sandboxed: launch.sandboxed,
        limits: launch.limits,
        ...(launch.programs ? { programs: launch.programs } : {}),
      });
      onSignals({ SIGINT: () => agent.stop(), SIGTERM: () => agent.drain() });
      // Started by `drover up` (an IPC channel to it): when it dies, even by kill -9, the channel
      // closes and this agent stops too (its tasks killed), rather than living on as an orphan.
      if (process.channel) {
        process.on('disconnect', () => {
          console.log(`[agent ${config.name}] the drover up that started this agent is gone: stopping`);
          agent.stop();
          setTimeout(() => process.exit(1), 15_000).unref();
        });
      }
      await agent.run().catch((err: unknown) => {
        throw err instanceof AgentRefusedError ? new CliError(err.message) : err;
      });
      await launch.shutdown();
      process.exit(0);
    });
}
