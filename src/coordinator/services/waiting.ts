// `waiting` on job views: why each created or queued job's tasks are not running yet (core/waiting.ts),
// from facts read once for the whole list. Counts only: no other user's job is named.
import { emptyCounts, type TaskCounts } from '../../core/states.js';
import { waitingReason } from '../../core/waiting.js';
import { quotaWaitingReason } from '../../core/quotas.js';
import { limitedUses } from './quotas.js';
import { noAgentMeets } from '../../core/job-requirements.js';
import { type HostFacts, hostFactsOf } from '../../core/templates/host-match.js';
import { dependencyOutcome } from '../../core/dependencies.js';
import * as dependenciesRepo from '../../store/repositories/dependencies.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import * as queueRepo from '../../store/repositories/queue.js';
import type { Db } from '../../store/schema.js';
import { jobRequirementsOf } from '../../store/json-columns.js';

/** Each job's reason to wait (null when nothing holds it back or it is not waiting). */
export async function waitingReasons(db: Db, rows: readonly JobRow[], counts: ReadonlyMap<string, TaskCounts>, failureLimit: number): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>(rows.map((r) => [r.id, null]));
  // Quotas hold back queued tasks of running jobs too: their owners' use is read once for the list.
  const quotas = await limitedUses(db, [...new Set(rows.filter((r) => r.status === 'queued' || r.status === 'running').map((r) => r.user_id))]);
  const quotaOf = (row: JobRow) => {
    const use = quotas.get(row.user_id);
    return use ? quotaWaitingReason(use, row.cores) : null;
  };
  for (const row of rows) {
    if (row.status === 'running' && quotas.has(row.user_id)) {
      out.set(row.id, waitingReason({ ...RUNNING_FACTS, jobId: row.id, status: 'running', cores: row.cores, queued: (counts.get(row.id) ?? emptyCounts()).queued, quota: quotaOf(row) }));
    }
  }
  const waiting = rows.filter((r): r is JobRow & { status: 'created' | 'queued' } => r.status === 'created' || r.status === 'queued');
  if (waiting.length === 0) return out;
  const online = await agentsRepo.onlineAgentSlots(db);
  const pausedOnline = await agentsRepo.countPausedOnline(db);
  let hostList: { name: string; host: HostFacts }[] | null = null;
  const hosts = async () => (hostList ??= (await agentsRepo.onlineAgentHosts(db)).map((a) => ({ name: a.name, host: hostFactsOf(a) })));
  const running = await queueRepo.coresRunningByAgent(db);
  const freeCores = new Map(online.map((a) => [a.id, a.slots - (running.get(a.id) ?? 0)]));
  const blocked = await agentFailuresRepo.blockedAgentIds(db, waiting.map((r) => r.id), failureLimit);
  for (const row of waiting) {
    const requirements = jobRequirementsOf(row);
    out.set(
      row.id,
      waitingReason({
        jobId: row.id,
        status: row.status,
        cores: row.cores,
        queued: (counts.get(row.id) ?? emptyCounts()).queued,
        online,
        pausedOnline,
        requirementsUnmet: requirements ? noAgentMeets(requirements, await hosts()) : null,
        blocked: blocked.get(row.id) ?? new Set(),
        failureLimit,
        freeCores,
        waitingFor: row.held === 1 ? await openDependencies(db, row) : [],
        ahead: row.status === 'queued' && row.held === 0 ? await queueRepo.jobsAhead(db, row) : { higher: 0, older: 0 },
        quota: quotaOf(row),
      }),
    );
  }
  return out;
}

/** The facts a running job's reason does not read (only its queued tasks and its quota matter). */
const RUNNING_FACTS = { online: [], pausedOnline: 0, blocked: new Set<string>(), failureLimit: 0, freeCores: new Map<string, number>(), requirementsUnmet: null, waitingFor: [], ahead: { higher: 0, older: 0 } };

/** The jobs a held job still waits for. */
async function openDependencies(db: Db, row: JobRow): Promise<string[]> {
  const outcome = dependencyOutcome(row.after_any === 1, await dependenciesRepo.dependenciesOf(db, row.id));
  return outcome.kind === 'wait' ? outcome.on : [];
}
