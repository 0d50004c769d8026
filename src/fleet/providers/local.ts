// Agents as child processes of the fleet on this machine: `node bin/drover.js agent …`, each with
// its own work directory under the fleet's data directory. The join token travels in the child's
// environment (DROVER_AGENT_TOKEN), so it never shows in `ps`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentArgs, type AgentHandle, type AgentProvider, type AgentSpec } from './provider.js';

const BIN = fileURLToPath(new URL('../../../bin/drover.js', import.meta.url));

export class LocalProvider implements AgentProvider {
  readonly kind = 'local';

  constructor(
    private readonly spec: AgentSpec,
    /** Work directories go under here, one per agent name, so a name reuses its cache. */
    private readonly dataDir: string,
  ) {}

  start(name: string): Promise<AgentHandle> {
    const env: NodeJS.ProcessEnv = { ...process.env, DROVER_AGENT_TOKEN: this.spec.joinToken };
    // Its output is the agent's own log, prefixed with its name; it joins the fleet's output.
    const child = spawn(process.execPath, [BIN, ...agentArgs(this.spec, name, join(this.dataDir, name))], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
      child.once('error', (err) => resolve(`could not run: ${err.message}`));
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        const pid = child.pid!;
        const signal = (sig: NodeJS.Signals) => {
          if (child.exitCode === null && child.signalCode === null) child.kill(sig);
        };
        resolve({ name, pid, describe: `pid ${pid}`, exited, drain: () => signal('SIGTERM'), stopNow: () => signal('SIGINT') });
      });
      child.once('error', reject);
    });
  }
}
