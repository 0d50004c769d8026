// Task logs: appended in batches by the agent while the task runs, kept per attempt, capped so a
// task that prints gigabytes cannot fill the coordinator (its stdout.txt result stays whole).
import * as logsRepo from '../../store/repositories/logs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { leaseLost } from '../errors.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, nowIso } from './context.js';
import type { LogEntry } from '../../wire/tasks.js';

export interface LogChunk {
  stream: 'stdout' | 'stderr' | 'system';
  data: string;
}

export async function appendTaskLogs(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, attempt: number, chunks: readonly LogChunk[]): Promise<void> {
  const now = nowIso();
  const stored = await ctx.db.transaction().execute(async (trx) => {
    const task = await tasksRepo.findTask(trx, taskId);
    if (!task || task.agent_id !== agent.id || task.attempt !== attempt) throw leaseLost(taskId);
    const row = await trx.selectFrom('task_attempts').select('log_bytes').where('task_id', '=', taskId).where('attempt', '=', attempt).executeTakeFirst();
    let used = Number(row?.log_bytes ?? 0);
    const limit = ctx.config.logLimitBytes;
    const rows: logsRepo.LogChunkRow[] = [];
    for (const chunk of chunks) {
      const bytes = Buffer.byteLength(chunk.data);
      // The agent's own short note that it stopped sending (its output filled the limit exactly)
      // is kept past the limit: without it the log would end with no word of why.
      if (used >= limit) {
        if (chunk.stream === 'system' && bytes <= 1024) rows.push({ task_id: taskId, attempt, stream: 'system', data: chunk.data, created_at: now });
        continue;
      }
      if (used + bytes > limit) {
        rows.push({ task_id: taskId, attempt, stream: 'system', data: `[drover] the live log is capped at ${limit} bytes; the full output is in stdout.txt and stderr.txt\n`, created_at: now });
        used = limit;
        break;
      }
      used += bytes;
      rows.push({ task_id: taskId, attempt, stream: chunk.stream, data: chunk.data, created_at: now });
    }
    const ids = await logsRepo.appendLogs(trx, rows);
    await logsRepo.addLogBytes(trx, taskId, attempt, used - Number(row?.log_bytes ?? 0));
    return rows.map((r, i) => ({ ...r, seq: ids[i]! }));
  });
  for (const r of stored) ctx.bus.emit('log', { seq: r.seq, taskId, attempt, stream: r.stream, data: r.data, time: r.created_at });
}

export async function readTaskLogs(ctx: ServiceContext, taskId: string, opts: { attempt?: number; after?: number; limit?: number }): Promise<LogEntry[]> {
  const rows = await logsRepo.readLogs(ctx.db, taskId, { ...opts, limit: opts.limit ?? 5000 });
  return rows.map((r) => ({ seq: Number(r.id), attempt: r.attempt, stream: r.stream, data: r.data, time: r.created_at }));
}
