// Reads the farm's work from a coordinator's GET /metrics: `drover_tasks{instance_type,status}`,
// turned into cores with the instance-type sizes. /metrics needs no token, and lives outside
// /api/v1, so this is a plain fetch rather than the ApiClient.
import type { WorkLoad } from '../core/fleet-scaling.js';
import type { InstanceTypeCores } from '../core/instance-types.js';
import { MetricsFormatError, parseMetrics, type Sample } from './prometheus.js';

export interface FarmWork {
  work: WorkLoad[];
  /** `drover_agents{status="online"}`: every online agent of the farm, not only the fleet's. */
  onlineAgents: number;
}

const SCRAPE_TIMEOUT_MS = 10_000;

/** The work per instance type. A type the fleet does not know is taken as 1 core (the smallest ask). */
export function farmWork(samples: readonly Sample[], instanceCores: InstanceTypeCores): FarmWork {
  const byType = new Map<string, WorkLoad>();
  let seenTasks = false;
  let onlineAgents = 0;
  for (const s of samples) {
    if (s.name === 'drover_agents' && s.labels.status === 'online') onlineAgents = s.value;
    if (s.name !== 'drover_tasks') continue;
    seenTasks = true;
    const type = s.labels.instance_type ?? '';
    const status = s.labels.status;
    if (status !== 'queued' && status !== 'running') continue;
    const cores = (instanceCores as Record<string, number>)[type] ?? 1;
    const load = byType.get(type) ?? { cores, queued: 0, running: 0 };
    // Several series for one type and status (e.g. scraped through a proxy) must not double the
    // work: every replica reports the farm-wide value, so the largest is the truth.
    load[status] = Math.max(load[status], s.value);
    byType.set(type, load);
  }
  if (!seenTasks) throw new MetricsFormatError('the coordinator\'s /metrics has no drover_tasks (is it a Drover coordinator, and recent enough?)');
  return { work: [...byType.values()], onlineAgents };
}

/** Scrapes the coordinators in turn until one answers. */
export async function readFarmWork(servers: readonly string[], instanceCores: InstanceTypeCores): Promise<FarmWork> {
  let lastError: unknown = new Error('no coordinator URL given');
  for (const server of servers) {
    try {
      const res = await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`GET ${server}/metrics answered HTTP ${res.status}`);
      return farmWork(parseMetrics(await res.text()), instanceCores);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
