// Joining the farm: the agent registers with the join token, under the identity it kept in its work
// directory, and gets the agent token and heartbeat interval it works with from then on.
import { arch, availableParallelism, platform, totalmem } from 'node:os';
import type { JoinAnswer, RegisterAgentBody } from '../wire/agents.js';
import { DROVER_VERSION } from '../version.js';
import { ApiError, type ApiClient, backoffMs, sleep } from '../client/api-client.js';
import type { AgentConfig } from './config.js';
import { loadIdentity, saveIdentity } from './identity.js';
import type { LimitEnforcement } from './isolation/resource-limits.js';

/** The coordinator said no (a wrong join token, the name taken): said in one line, not a stack. */
export class AgentRefusedError extends Error {}

export interface JoinRequest {
  client: ApiClient;
  config: Pick<AgentConfig, 'joinToken' | 'name' | 'slots' | 'workDir' | 'labels' | 'nameWaitSeconds'>;
  /** Whether host tasks are confined (the launcher's finding, not the flag). */
  sandboxed: boolean;
  /** What the launcher holds host tasks to (see isolation/resource-limits.ts). */
  limits?: LimitEnforcement;
  gpus: number;
  signal: AbortSignal;
  log(line: string): void;
}

/**
 * Registers until the coordinator answers, and leaves `client` holding the agent token. Waits for a
 * coordinator that is not up yet, and for a while for another agent online under this name.
 */
export async function joinFarm(req: JoinRequest): Promise<JoinAnswer> {
  const { client, config } = req;
  const previous = await loadIdentity(config.workDir);
  client.token = config.joinToken;
  let attempt = 0;
  const startedAt = Date.now();
  const nameWaitMs = config.nameWaitSeconds * 1000;
  let saidNameTaken = false;
  for (;;) {
    try {
      const answer = await client.json<JoinAnswer, RegisterAgentBody>('POST', '/agents/register', {
        name: config.name,
        cores: availableParallelism(),
        memoryBytes: totalmem(),
        labels: config.labels,
        slots: config.slots,
        sandbox: req.sandboxed,
        version: DROVER_VERSION,
        attributes: { ...hostAttributes(), gpus: req.gpus },
        ...(req.limits ? { limits: req.limits } : {}),
        ...(previous ? { previousToken: previous.agentToken } : {}),
      });
      client.token = answer.agentToken;
      await saveIdentity(config.workDir, { agentId: answer.agentId, agentToken: answer.agentToken });
      req.log(`joined ${client.baseUrl} as ${answer.agentId} with ${config.slots} slot(s)`);
      return answer;
    } catch (err) {
      // Another agent online under this name: it may be one that just stopped (a fleet reusing
      // names) and goes silent within a lease, so wait a while; one that stays is a duplicate.
      if (err instanceof ApiError && err.status === 409 && Date.now() - startedAt < nameWaitMs) {
        if (!saidNameTaken) req.log(`${err.message}; waiting up to ${Math.round(nameWaitMs / 1000)} s for it to go away`);
        saidNameTaken = true;
        await sleep(backoffMs(attempt++, 1000, 5000), req.signal);
        continue;
      }
      if (err instanceof ApiError && err.status < 500) throw new AgentRefusedError(`the coordinator refused this agent: ${err.message}`);
      if (req.signal.aborted) throw err;
      if (attempt === 0) req.log(`waiting for the coordinator at ${client.baseUrl} (${(err as Error).message})`);
      await sleep(backoffMs(attempt++, 250, 5000), req.signal);
    }
  }
}

/** What OpenJD host requirements name attr.worker.os.family and attr.worker.cpu.arch, in its words. */
function hostAttributes(): { os: string; arch: string; gpus: number } {
  const os = platform() === 'darwin' ? 'macos' : platform() === 'win32' ? 'windows' : platform();
  const cpu = arch() === 'x64' ? 'x86_64' : arch();
  return { os, arch: cpu, gpus: 0 };
}
