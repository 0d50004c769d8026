// The preview task's view of a render job's frames: it starts while the last chunks still render,
// so a frame may not be recorded yet. Each is asked of the coordinator (a long-poll, one request at
// a time for all who wait) until it is, then kept.
import type { PreviewFrame, PreviewTaskSpec } from '../wire/render.js';

/** Asks the coordinator for the frames recorded from frame number `from` on (waiting a while for `from`). */
export type AskFrames = (from: number) => Promise<PreviewFrame[]>;

export class RecordedFrames {
  private readonly frames: (PreviewFrame | null)[];
  /** Each frame's number, in job order, and each number's place. */
  private readonly numbers: number[];
  private readonly indexOf = new Map<number, number>();
  private asking: Promise<void> | null = null;
  /** Every frame before this one is recorded (frames once recorded stay so). */
  private firstMissing = 0;

  constructor(
    spec: PreviewTaskSpec['frames'],
    private readonly ask: AskFrames,
  ) {
    this.numbers = spec.map((f) => f.frame);
    this.frames = spec.map((f, i) => {
      this.indexOf.set(f.frame, i);
      return f.path !== null && f.sha256 !== null ? { frame: f.frame, path: f.path, sha256: f.sha256 } : null;
    });
  }

  get count(): number {
    return this.frames.length;
  }

  /** How many are recorded already (without asking). */
  get recorded(): number {
    return this.frames.filter((f) => f !== null).length;
  }

  /** The i-th frame in job order, once it is recorded. Rejects when the coordinator refuses (the task was stopped). */
  async get(i: number): Promise<PreviewFrame> {
    for (;;) {
      const frame = this.frames[i];
      if (frame === undefined) throw new RangeError(`frame index ${i} of ${this.frames.length}`);
      if (frame) return frame;
      this.asking ??= this.askFromFirstMissing().finally(() => (this.asking = null));
      await this.asking;
    }
  }

  /** One request for everyone waiting: from the first frame not recorded yet (later ones come with it). */
  private async askFromFirstMissing(): Promise<void> {
    while (this.firstMissing < this.frames.length && this.frames[this.firstMissing] !== null) this.firstMissing++;
    if (this.firstMissing >= this.frames.length) return;
    for (const f of await this.ask(this.numbers[this.firstMissing]!)) {
      const i = this.indexOf.get(f.frame);
      if (i !== undefined) this.frames[i] = f;
    }
  }
}
