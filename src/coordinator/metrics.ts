// `/metrics` in the Prometheus text format (0.0.4), written by hand: a few gauges read from the
// store at scrape time and two histograms. The farm-wide numbers (tasks, agents, jobs, attempt
// durations) come from the shared store, so every replica reports the same values: aggregate them
// with max(), not sum(). Request latency is per replica.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { isPostgres } from '../store/dialect.js';
import type { ServiceContext } from './services/context.js';
import { DROVER_VERSION } from '../version.js';

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

const numberText = (n: number) => (n === Infinity ? '+Inf' : Number.isFinite(n) ? String(n) : 'NaN');

function header(name: string, help: string, type: 'gauge' | 'histogram' | 'counter'): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative counts, one per bucket bound (the last bound is +Inf). */
  counts: number[];
  sum: number;
  count: number;
}

function histogramLines(name: string, bounds: readonly number[], series: Iterable<HistogramSeries>): string[] {
  const lines: string[] = [];
  for (const s of series) {
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += s.counts[i] ?? 0;
      lines.push(`${name}_bucket${labelText({ ...s.labels, le: numberText(le) })} ${cumulative}`);
    });
    lines.push(`${name}_sum${labelText(s.labels)} ${numberText(s.sum)}`);
    lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
  }
  return lines;
}

/** A histogram kept in memory, fed as things happen. */
export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.bounds = [...bounds, Infinity];
  }

  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const i = this.bounds.findIndex((b) => value <= b);
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    return [...header(this.name, this.help, 'histogram'), ...histogramLines(this.name, this.bounds, this.series.values())];
  }
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

async function storeMetrics(ctx: ServiceContext): Promise<string[]> {
  const tasks = await ctx.db
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
  for (const r of tasks) taskCounts.set(`${r.instance_type}\u0000${r.status}`, Number(r.n));
  const [agents, jobs, durations] = await Promise.all([countBy(ctx, 'agents'), countBy(ctx, 'jobs'), attemptDurations(ctx)]);

  const lines = [...header('drover_tasks', 'Tasks of started jobs waiting for an agent (queued) or running, per instance type.', 'gauge')];
  for (const [key, n] of taskCounts) {
    const [instanceType, status] = key.split('\u0000') as [string, string];
    lines.push(`drover_tasks${labelText({ instance_type: instanceType, status })} ${n}`);
  }
  lines.push(...header('drover_agents', 'Agents known to the farm, by status.', 'gauge'));
  for (const s of new Set([...AGENT_STATUSES, ...agents.keys()])) lines.push(`drover_agents${labelText({ status: s })} ${agents.get(s) ?? 0}`);
  lines.push(...header('drover_jobs', 'Jobs, by status.', 'gauge'));
  for (const s of new Set([...JOB_STATUSES, ...jobs.keys()])) lines.push(`drover_jobs${labelText({ status: s })} ${jobs.get(s) ?? 0}`);
  lines.push(...header('drover_task_attempt_duration_seconds', 'Wall time of finished task attempts, by outcome (done, error, lost, interrupted, canceled).', 'histogram'));
  lines.push(...histogramLines('drover_task_attempt_duration_seconds', [...TASK_BOUNDS, Infinity], durations));
  return lines;
}

/** Adds GET /metrics (no auth, like /healthz) and the request-latency hook. Call before routes. */
export function registerMetrics(app: FastifyInstance, ctx: ServiceContext): void {
  const http = new Histogram('drover_http_request_duration_seconds', 'Time to answer API requests on this replica, by method, route and status code.', HTTP_BOUNDS);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: ids in paths would make a series per job.
    const route = request.routeOptions.url ?? 'unmatched';
    http.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  let cached: { at: number; lines: Promise<string[]> } | null = null;
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    if (!cached || Date.now() - cached.at > STORE_READ_CACHE_MS) {
      const lines = storeMetrics(ctx);
      cached = { at: Date.now(), lines };
      lines.catch(() => (cached = null));
    }
    const body = [
      ...header('drover_build_info', 'The running Drover version.', 'gauge'),
      `drover_build_info${labelText({ version: DROVER_VERSION })} 1`,
      ...(await cached.lines),
      ...http.render(),
      '',
    ].join('\n');
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(body);
  });
}
