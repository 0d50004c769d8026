// Following a job live over server-sent events: a progress bar, or log lines as they come.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ApiClient, RequestOptions } from '../client/api-client.js';
import { isTerminalJob, type JobStatus } from '../core/states.js';
import type { JobView } from '../wire/jobs.js';
import { duration } from './format.js';
import { untilReachable } from './session.js';

/** Reads a server-sent-events endpoint until it ends or `onEvent` returns true. */
export async function readEvents(client: ApiClient, path: string, onEvent: (event: string, data: unknown) => boolean | void, signal?: AbortSignal, retry: RequestOptions = {}): Promise<void> {
  const res = await client.download(path, { ...retry, ...(signal ? { signal } : {}) });
  const decoder = new TextDecoder();
  let stop = false;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (stop) return;
      if (onEvent(message.event ?? 'message', JSON.parse(message.data))) stop = true;
    },
  });
  const reader = res.body!.getReader();
  try {
    while (!stop) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Follows a job until it ends; returns its final view. Reconnects if the stream drops. */
export interface WaitOptions {
  quiet?: boolean;
  unit?: string;
  /** What the bar counts (default: ended tasks of all tasks). */
  progress?: (job: JobView) => { done: number; total: number };
}

const taskProgress = (job: JobView) => ({ done: job.counts.done + job.counts.error + job.counts.canceled, total: job.taskCount });

export async function waitForJob(client: ApiClient, jobId: string, opts: WaitOptions = {}): Promise<JobView> {
  const progressOf = opts.progress ?? taskProgress;
  const tty = process.stderr.isTTY && !opts.quiet;
  const unit = opts.unit ?? 'tasks';
  // The progress bar's package is loaded only for a terminal (see commands/templates.ts).
  const cliProgress = tty ? (await import('cli-progress')).default : null;
  const bar = cliProgress ? new cliProgress.SingleBar({ format: `{status} [{bar}] {value}/{total} ${unit} | {counts} | ETA {eta_s}`, stream: process.stderr, etaBuffer: 20 }, cliProgress.Presets.shades_classic) : null;
  let last: JobView | null = null;
  let started = false;
  let lastPrinted = '';
  const show = (job: JobView) => {
    last = job;
    const { done, total } = progressOf(job);
    // Older coordinators send no `uploading` (their running count includes those tasks).
    const uploading = job.counts.uploading ? `, ${job.counts.uploading} uploading` : '';
    const counts = `${job.counts.running} running${uploading}, ${job.counts.done} done, ${job.counts.error} error`;
    const eta = job.etaSeconds !== null ? duration(job.etaSeconds * 1000) : '-';
    if (bar) {
      if (!started) {
        bar.start(total, done, { status: job.status, counts, eta_s: eta });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { status: job.status, counts, eta_s: eta });
    } else if (!opts.quiet) {
      const line = `${job.status}: ${done}/${total} ${unit} (${counts})`;
      if (line !== lastPrinted) process.stderr.write(`${line}\n`);
      lastPrinted = line;
    }
    if (job.unschedulable && !opts.quiet) process.stderr.write(`warning: ${job.unschedulable}\n`);
  };
  // The stream drops when the coordinator restarts or the network cuts: reconnect (it sends the
  // job's current view first) for as long as the person lets it, saying so on stderr.
  await untilReachable(`following job ${jobId}`, async (retry) => {
    for (;;) {
      await readEvents(client, `/jobs/${jobId}/events`, (event, data) => {
        if (event !== 'job') return false;
        const job = data as JobView;
        show(job);
        return isTerminalJob(job.status as JobStatus);
      }, undefined, retry);
      const current = last as JobView | null;
      if (current && isTerminalJob(current.status)) return;
      // Ended without the job ending (a replica shut down cleanly): read it again.
      await new Promise((r) => setTimeout(r, 500));
    }
  });
  bar?.stop();
  return last!;
}
