// `/metrics` in the Prometheus text format (0.0.4), written by prom-client: a few gauges read from
// the store at scrape time and two histograms. The farm-wide numbers (tasks, agents, jobs, attempt
// durations) come from the shared store, so every replica reports the same values: aggregate them
// with max(), not sum(). Request latency is per replica. Each server has its own registry (tests
// run several servers in one process).
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { isPostgres } from '../store/dialect.js';
import type { ServiceContext } from './services/context.js';
import { DROVER_VERSION } from '../version.js';

type Labels = Record<string, string>;

interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative counts, one per bucket bound (the last bound is +Inf). */
  counts: number[];
  sum: number;
  count: number;
}

const HTTP_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const TASK_BOUNDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
const JOB_STATUSES = ['created', 'queued', 'running', 'done', 'error', 'canceled'];
const AGENT_STATUSES = ['online', 'draining', 'offline'];
/** Scrapes closer together than this share one reading of the store. */
const STORE_READ_CACHE_MS = 2000;

async function countBy(ctx: ServiceContext, table: 'jobs' | 'agents'): Promise<Map<string, number>> {
  // Archived jobs are kept but out of sight: dashboards count the farm's live history only.
  const rows = await ctx.db
    .selectFrom(table)
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .$if(table === 'jobs', (qb) => qb.where(sql.ref('archived_at'), 'is', null))
    .groupBy('status')
    .execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** The finished attempts' wall times, bucketed inside the store (no rows travel). */
async function attemptDurations(ctx: ServiceContext): Promise<HistogramSeries[]> {
  const seconds = isPostgres(ctx.db)
    ? sql`extract(epoch from (finished_at::timestamptz - started_at::timestamptz))`
    : sql`((julianday(finished_at) - julianday(started_at)) * 86400.0)`;
  const buckets = TASK_BOUNDS.map((b, i) => sql`sum(case when d <= ${sql.raw(String(b))} then 1 else 0 end) as ${sql.ref(`le${i}`)}`);
  const { rows } = await sql<Record<string, string | number | null>>`
    select status, count(*) as n, sum(d) as total, ${sql.join(buckets)}
    from (select status, ${seconds} as d from task_attempts where finished_at is not null) as a
    group by status`.execute(ctx.db);
  const bounds = [...TASK_BOUNDS, Infinity];
  return rows.map((r) => {
    const cumulative = TASK_BOUNDS.map((_, i) => Number(r[`le${i}`] ?? 0));
    const count = Number(r.n);
    const counts = bounds.map((_, i) => (i < cumulative.length ? cumulative[i]! - (i > 0 ? cumulative[i - 1]! : 0) : count - (cumulative.at(-1) ?? 0)));
    return { labels: { status: String(r.status) }, counts, sum: Number(r.total ?? 0), count };
  });
}

interface StoreReading {
  /** Per instance type and status (queued, running). */
  tasks: { instanceType: string; status: string; n: number }[];
  agents: Map<string, number>;
  jobs: Map<string, number>;
  durations: HistogramSeries[];
}

async function readStore(ctx: ServiceContext): Promise<StoreReading> {
  const rows = await ctx.db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .select(['jobs.instance_type', 'tasks.status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('tasks.status', 'in', ['queued', 'running'])
    .where('jobs.status', 'in', ['queued', 'running'])
    // A job held for its dependencies (--after) is no work an agent could take now.
    .where('jobs.held', '=', 0)
    .groupBy(['jobs.instance_type', 'tasks.status'])
    .execute();
  const taskCounts = new Map<string, number>();
  for (const t of Object.keys(ctx.config.instanceCores)) for (const s of ['queued', 'running']) taskCounts.set(`${t}\u0000${s}`, 0);
  for (const r of rows) taskCounts.set(`${r.instance_type}\u0000${r.status}`, Number(r.n));
  const tasks = [...taskCounts].map(([key, n]) => {
    const [instanceType, status] = key.split('\u0000') as [string, string];
    return { instanceType, status, n };
  });
  const [agents, jobs, durations] = await Promise.all([countBy(ctx, 'agents'), countBy(ctx, 'jobs'), attemptDurations(ctx)]);
  return { tasks, agents, jobs, durations };
}

/**
 * A histogram whose buckets are counted elsewhere (here: inside the store, by one query). prom-client
 * has no public way to fill a histogram with counts it did not observe, so this one hands its
 * registry the values it would have made itself (cumulative `_bucket`s, `_sum`, `_count`); the
 * registry writes the text.
 */
export function precountedHistogram(name: string, help: string, bounds: readonly number[], read: () => Promise<HistogramSeries[]>): Metric {
  const le = (b: number) => (b === Infinity ? '+Inf' : String(b));
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'max',
    async get() {
      const values = [];
      for (const s of await read()) {
        let cumulative = 0;
        for (const [i, bound] of bounds.entries()) {
          cumulative += s.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: le(bound) }, value: cumulative });
        }
        values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
        values.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
      }
      return { name, help, type: 'histogram', aggregator: 'max', values };
    },
  };
  return metric as unknown as Metric;
}

/** Adds GET /metrics (no auth, like /healthz) and the request-latency hook. Call before routes. */
export function registerMetrics(app: FastifyInstance, ctx: ServiceContext): void {
  const registry = new Registry();
  const registers = [registry];

  // Scrapes closer together than STORE_READ_CACHE_MS share one reading of the store, and so do the
  // metrics of one scrape.
  let cached: { at: number; reading: Promise<StoreReading> } | null = null;
  const storeReading = (): Promise<StoreReading> => {
    if (!cached || Date.now() - cached.at > STORE_READ_CACHE_MS) {
      const reading = readStore(ctx);
      cached = { at: Date.now(), reading };
      reading.catch(() => (cached = null));
    }
    return cached.reading;
  };
  /** The gauge's series are those of the latest reading, and no others. */
  const fromStore = (fill: (gauge: Gauge, reading: StoreReading) => void) =>
    async function (this: Gauge) {
      const reading = await storeReading();
      this.reset();
      fill(this, reading);
    };

  new Gauge({ name: 'drover_build_info', help: 'The running Drover version.', labelNames: ['version'], registers }).set({ version: DROVER_VERSION }, 1);
  new Gauge({
    name: 'drover_tasks',
    help: 'Tasks of started jobs waiting for an agent (queued) or running, per instance type.',
    labelNames: ['instance_type', 'status'],
    registers,
    collect: fromStore((gauge, { tasks }) => {
      for (const t of tasks) gauge.set({ instance_type: t.instanceType, status: t.status }, t.n);
    }),
  });
  new Gauge({
    name: 'drover_agents',
    help: 'Agents known to the farm, by status.',
    labelNames: ['status'],
    registers,
    collect: fromStore((gauge, { agents }) => {
      for (const s of new Set([...AGENT_STATUSES, ...agents.keys()])) gauge.set({ status: s }, agents.get(s) ?? 0);
    }),
  });
  new Gauge({
    name: 'drover_jobs',
    help: 'Jobs, by status.',
    labelNames: ['status'],
    registers,
    collect: fromStore((gauge, { jobs }) => {
      for (const s of new Set([...JOB_STATUSES, ...jobs.keys()])) gauge.set({ status: s }, jobs.get(s) ?? 0);
    }),
  });
  registry.registerMetric(
    precountedHistogram(
      'drover_task_attempt_duration_seconds',
      'Wall time of finished task attempts, by outcome (done, error, lost, interrupted, canceled).',
      [...TASK_BOUNDS, Infinity],
      async () => (await storeReading()).durations,
    ),
  );
  const http = new Histogram({
    name: 'drover_http_request_duration_seconds',
    help: 'Time to answer API requests on this replica, by method, route and status code.',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BOUNDS,
    registers,
  });

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: ids in paths would make a series per job.
    const route = request.routeOptions.url ?? 'unmatched';
    http.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
