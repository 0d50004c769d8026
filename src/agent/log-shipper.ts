// Sends a task's output to the coordinator in batches while it runs. Memory stays bounded: when
// the coordinator falls behind, the caller is asked to pause the process's pipes; past the live-log
// limit nothing more is sent (the whole output still goes to stdout.txt / stderr.txt).
import { StringDecoder } from 'node:string_decoder';
import { ApiError, type ApiClient } from '../client/api-client.js';

export type LogStream = 'stdout' | 'stderr' | 'system';

const FLUSH_MS = 250;
const MAX_BATCH_BYTES = 256 * 1024;
export const HIGH_WATER_BYTES = 1024 * 1024;

export class LogShipper {
  private pending: { stream: LogStream; data: string }[] = [];
  private pendingBytes = 0;
  private sentBytes = 0;
  private capped = false;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly client: ApiClient,
    private readonly taskId: string,
    private readonly attempt: number,
    private readonly limitBytes: number,
    private readonly onLeaseLost: () => void,
  ) {}

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    // Past the cap, do not even decode: a task may print gigabytes more.
    if (this.capped) return;
    this.push(stream, this.decoders[stream].write(chunk));
  }

  system(line: string): void {
    this.push('system', `[drover] ${line}\n`);
  }

  get overHighWater(): boolean {
    return this.pendingBytes > HIGH_WATER_BYTES;
  }

  /** Resolves once the backlog is below the high-water mark. */
  drained(): Promise<void> {
    if (!this.overHighWater) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private push(stream: LogStream, data: string): void {
    if (!data || this.capped) return;
    if (this.sentBytes + this.pendingBytes + data.length > this.limitBytes) {
      this.capped = true;
      data = `[drover] the live log stops here (limit ${this.limitBytes} bytes); stdout.txt and stderr.txt in the results have everything\n`;
      stream = 'system';
    }
    this.pending.push({ stream, data });
    this.pendingBytes += data.length;
    if (this.pendingBytes >= MAX_BATCH_BYTES) this.flushSoon(0);
    else this.flushSoon(FLUSH_MS);
  }

  private flushSoon(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sending = this.sending.then(() => this.send());
    }, ms);
  }

  private async send(): Promise<void> {
    while (this.pending.length > 0) {
      const batch: { stream: LogStream; data: string }[] = [];
      let bytes = 0;
      while (this.pending.length > 0 && bytes < MAX_BATCH_BYTES) {
        const next = this.pending.shift()!;
        // Output that follows output of the same stream joins it: the coordinator stores (and
        // announces) each chunk as one entry, and a renderer flushes a line at a time (Blender
        // prints about 45 per frame), so a batch of lines would otherwise be as many entries.
        const last = batch.at(-1);
        if (last && last.stream === next.stream) last.data += next.data;
        else batch.push({ ...next });
        bytes += next.data.length;
      }
      this.pendingBytes -= bytes;
      try {
        await this.client.json('POST', `/agent/tasks/${this.taskId}/logs`, { attempt: this.attempt, chunks: batch }, { retryForMs: 30_000 });
        this.sentBytes += bytes;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'lease_lost') {
          this.pending = [];
          this.pendingBytes = 0;
          this.onLeaseLost();
        }
        // Otherwise the coordinator is unreachable: this batch is dropped from the live log (the
        // result files keep everything) and the next batch tries again.
      }
      if (!this.overHighWater) {
        for (const w of this.drainWaiters.splice(0)) w();
      }
    }
  }

  /** Sends everything still buffered; call before completing the task. */
  async close(): Promise<void> {
    for (const s of ['stdout', 'stderr'] as const) this.push(s, this.decoders[s].end());
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.sending = this.sending.then(() => this.send());
    await this.sending;
    for (const w of this.drainWaiters.splice(0)) w();
  }
}
