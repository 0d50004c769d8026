// `drover fleet`: an elastic pool of agents, started and drained to match the farm's queued work.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { findExecutable } from '../../process/find-executable.js';
import { defaultDataDir } from '../../data-dir.js';
import { parseInstanceCores } from '../../core/instance-types.js';
import { Fleet } from '../../fleet/fleet.js';
import { ContainerProvider, type Engine } from '../../fleet/providers/container.js';
import { LocalProvider } from '../../fleet/providers/local.js';
import type { AgentProvider, AgentSpec } from '../../fleet/providers/provider.js';
import { positiveInt } from '../parse.js';
import { CliError } from '../session.js';

const nonNegativeInt = (name: string) => (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${name} must be a whole number of 0 or more, not "${text}"`);
  return n;
};

const seconds = (name: string, allowZero: boolean) => (text: string): number => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new CliError(`${name} must be a number of seconds${allowZero ? '' : ' above 0'}, not "${text}"`);
  }
  return n;
};

interface FleetCliOptions {
  server: string;
  token?: string;
  provider: 'local' | Engine;
  min: number;
  max: number;
  step: number;
  idle: number;
  slots?: number;
  interval: number;
  image?: string;
  namePrefix: string;
  data: string;
  instanceCores?: string;
  sandbox: boolean;
  runtime?: string;
  network?: string;
  drainTimeout: number;
}

const HELP_AFTER = `
How it scales:
  Every --interval it reads the coordinator's /metrics (drover_tasks queued and running, in cores
  per --instance-cores) and works out how many agents of --slots cores that work needs. It starts
  at most --step agents per decision toward that, never more than --max (draining agents count).
  Once no task has been queued for --idle seconds it stops agents that must be idle, down to
  --min. A stopped agent drains: it finishes its running tasks and takes no new ones.
  SIGINT/SIGTERM drains every agent and exits when they have gone; a second signal stops them
  at once (their running tasks go back to the queue).

Providers:
  local           child processes (node bin/drover.js agent), work dirs under --data
  podman, docker  containers: <engine> run -d --rm --name <prefix>-N … IMAGE drover agent …
                  The image must contain drover (\`drover\` on PATH); none is published.

The join token is passed to agents in their environment, never on a command line.
See docs/fleet.md.`;

export function registerFleetCommand(program: Command): void {
  program
    .command('fleet')
    .description('keep a pool of agents matched to the queued work: start them for bursts, drain them when idle')
    .requiredOption('--server <urls>', 'coordinator URL (several, comma-separated, are tried in turn)')
    .option('--token <token>', 'the agent join token (or DROVER_AGENT_TOKEN)')
    .addOption(new Option('--provider <provider>', 'how agents run').choices(['local', 'podman', 'docker']).makeOptionMandatory())
    .option('--min <n>', 'agents kept even with no work', nonNegativeInt('--min'), 0)
    .option('--max <n>', 'agents never exceeded', positiveInt('--max'), 4)
    .option('--step <n>', 'agents started per decision at most', positiveInt('--step'), 1)
    .option('--idle <seconds>', 'seconds without queued work before idle agents are stopped', seconds('--idle', true), 60)
    .option('--slots <n>', 'cores each agent offers (default: this machine\'s cores divided by --max)', positiveInt('--slots'))
    .option('--interval <seconds>', 'seconds between decisions', seconds('--interval', false), 2)
    .option('--instance-cores <spec>', 'cores per instance type, as given to the coordinator (e.g. s=1,m=4,l=8,xl=16)')
    .option('--name-prefix <prefix>', 'agents are named PREFIX-1, PREFIX-2, …', 'fleet')
    .option('--data <dir>', 'local provider: the agents\' work dirs go under here', join(defaultDataDir(), 'fleet'))
    .option('--no-sandbox', 'start agents with --no-sandbox (no bubblewrap confinement of host tasks)')
    .option('--image <image>', 'podman/docker: the agent image (must contain drover)')
    .option('--runtime <runtime>', 'podman/docker: the OCI runtime, e.g. /usr/sbin/runc (or DROVER_FLEET_RUNTIME; podman: runc when installed)')
    .option('--network <network>', 'podman/docker: the container network, e.g. host when --server is localhost')
    .option('--drain-timeout <seconds>', 'podman/docker: how long `<engine> stop` waits for a draining agent', seconds('--drain-timeout', false), 3600)
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: FleetCliOptions) => {
      const joinToken = opts.token ?? process.env.DROVER_AGENT_TOKEN;
      if (!joinToken) throw new CliError('give the agent join token with --token or DROVER_AGENT_TOKEN (the coordinator keeps it in DATA/agent-token)');
      if (opts.min > opts.max) throw new CliError(`--min (${opts.min}) must not be above --max (${opts.max})`);
      const prefix = opts.namePrefix;
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(prefix)) throw new CliError(`--name-prefix takes letters, digits, "_", "." and "-" (a container name), not "${prefix}"`);
      let instanceCores;
      try {
        instanceCores = parseInstanceCores(opts.instanceCores);
      } catch (err) {
        throw new CliError(`--instance-cores: ${(err as Error).message}`);
      }
      const servers = opts.server.split(',').map((s) => s.trim().replace(/\/+$/, '')).filter((s) => s !== '');
      for (const s of servers) if (!/^https?:\/\/[^/]/.test(s)) throw new CliError(`--server takes http:// or https:// URLs, not "${s}"`);
      // All providers run agents on this machine: share its cores, so --max agents never oversubscribe it.
      const slots = opts.slots ?? Math.max(1, Math.floor(availableParallelism() / opts.max));
      const spec: AgentSpec = { servers, joinToken, slots, sandbox: opts.sandbox };
      // Agents get the token from `spec`; the fleet's own children (engine calls) do not need it.
      delete process.env.DROVER_AGENT_TOKEN;

      let provider: AgentProvider;
      if (opts.provider === 'local') {
        for (const flag of ['image', 'runtime', 'network'] as const) if (opts[flag]) throw new CliError(`--${flag} is for the podman and docker providers`);
        provider = new LocalProvider(spec, opts.data);
      } else {
        if (!opts.image) throw new CliError(`--provider ${opts.provider} needs --image (an image that contains drover)`);
        const runtime = opts.runtime ?? (process.env.DROVER_FLEET_RUNTIME || undefined) ?? (opts.provider === 'podman' ? findExecutable('runc') ?? undefined : undefined);
        try {
          provider = new ContainerProvider(
            { engine: opts.provider, image: opts.image, drainTimeoutSeconds: opts.drainTimeout, ...(runtime ? { runtime } : {}), ...(opts.network ? { network: opts.network } : {}) },
            spec,
            prefix,
          );
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        if (!opts.network && servers.some((s) => /\/\/(localhost|127\.|\[::1\])/.test(s))) {
          console.log('[fleet] note: --server is localhost, which a container does not reach on its own network; consider --network host');
        }
      }

      const fleet = new Fleet({ servers, provider, policy: { min: opts.min, max: opts.max, step: opts.step, idleSeconds: opts.idle, slots }, intervalMs: opts.interval * 1000, instanceCores, namePrefix: prefix });
      process.on('SIGINT', () => fleet.stop());
      process.on('SIGTERM', () => fleet.stop());
      await fleet.run();
      process.exit(0);
    });
}
