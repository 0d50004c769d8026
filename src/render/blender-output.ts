// A streaming parser for what Blender prints while it renders, turning its lines into events the
// agent can report: progress per frame, each saved frame (with how long it took), errors.
//
// Lines it understands (Blender 3.x; Eevee and older Cycles word progress differently):
//   Fra:12 Mem:10.17M (Peak 10.91M) | Time:00:00.08 | Mem:0.82M, Peak:0.82M | Main, ViewLayer | Sample 4/16
//   Fra:12 ... | Rendering 3 / 64 samples                      (Eevee, Workbench)
//   Saved: '/out/frame_00012.png'
//    Time: 00:00.21 (Saving: 00:00.10)
//   Error: ...            Warning: ...          Drover: ... (render_setup.py)
//   Error: Python: Traceback (most recent call last):   + indented lines + "SomeError: why"

export type BlenderEvent =
  | { type: 'loaded'; path: string }
  | {
      type: 'progress';
      frame: number;
      /** Samples done and in total, when the line reports them. */
      sample?: number;
      samples?: number;
      /** What Blender is doing: "Sample 3/16", "Synchronizing object | Cube", … */
      status: string;
      peakMemoryMb?: number;
    }
  /** `elapsedMs`: wall-clock time from the frame's first Fra: line to Saved:, by the parser's clock. */
  | { type: 'saved'; frame: number | null; path: string; elapsedMs: number | null }
  /** Blender's own account of the frame's time, printed after Saved:. */
  | { type: 'frame-time'; frame: number | null; seconds: number; savingSeconds?: number }
  | { type: 'notice'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'error'; message: string; traceback?: string }
  | { type: 'quit' };

export interface ParserOptions {
  /** Clock for frame times; tests inject their own. */
  now?: () => number;
}

const FRA = /^Fra:(\d+)\s+Mem:[\d.]+[KMG]?\s+\(Peak ([\d.]+)([KMG])?\)\s*\|(.*)$/;
const SAMPLES = /(?:Sample|Rendering)\s+(\d+)\s*\/\s*(\d+)/;
const SAVED = /^Saved:\s+'(.*)'\s*$/;
const TIME = /^Time:\s*([\d:.]+)(?:\s+\(Saving:\s*([\d:.]+)\))?/;
const TRACEBACK_START = /^(?:Error: Python: )?Traceback \(most recent call last\):/;

export class BlenderOutputParser {
  private readonly now: () => number;
  private partial = '';
  private frame: number | null = null;
  private frameStartedAt: number | null = null;
  private traceback: string[] | null = null;

  constructor(options: ParserOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Feed a chunk of output (any split, even mid-line); returns the events of complete lines. */
  push(chunk: string | Buffer): BlenderEvent[] {
    const lines = (this.partial + chunk.toString()).split(/\r?\n|\r/);
    this.partial = lines.pop() ?? '';
    return lines.flatMap((line) => this.parseLine(line));
  }

  /** The output ended: parse what is left. */
  end(): BlenderEvent[] {
    const events = this.partial ? this.parseLine(this.partial) : [];
    this.partial = '';
    return [...events, ...this.flushTraceback()];
  }

  /** Parse one complete line (without its newline). */
  parseLine(rawLine: string): BlenderEvent[] {
    const line = rawLine.trimEnd();
    if (this.traceback) {
      // A traceback goes on while lines are indented; its first unindented line names the error.
      if (/^\s/.test(line) || line === '') {
        if (line !== '') this.traceback.push(line);
        return [];
      }
      this.traceback.push(line);
      return this.flushTraceback();
    }
    if (TRACEBACK_START.test(line)) {
      this.traceback = ['Traceback (most recent call last):'];
      return [];
    }

    const fra = FRA.exec(line);
    if (fra) return [this.progress(fra)];

    const saved = SAVED.exec(line);
    if (saved) {
      const path = saved[1]!;
      const frame = this.frame ?? frameFromPath(path);
      const elapsedMs = this.frameStartedAt === null ? null : this.now() - this.frameStartedAt;
      // The next Fra: line starts a new frame's clock, even if it has the same number.
      this.frameStartedAt = null;
      return [{ type: 'saved', frame, path, elapsedMs }];
    }

    const trimmed = line.trim();
    const time = TIME.exec(trimmed);
    if (time) {
      const seconds = parseDuration(time[1]!);
      if (seconds === undefined) return [];
      const saving = time[2] === undefined ? undefined : parseDuration(time[2]);
      return [saving === undefined ? { type: 'frame-time', frame: this.frame, seconds } : { type: 'frame-time', frame: this.frame, seconds, savingSeconds: saving }];
    }

    if (trimmed.startsWith('Read blend: ')) return [{ type: 'loaded', path: trimmed.slice('Read blend: '.length) }];
    if (trimmed === 'Blender quit') return [{ type: 'quit' }];
    if (trimmed.startsWith('Drover error: ')) return [{ type: 'error', message: trimmed.slice('Drover error: '.length) }];
    if (trimmed.startsWith('Drover: ')) return [{ type: 'notice', message: trimmed.slice('Drover: '.length) }];
    if (/^Error\b:?/.test(trimmed)) return [{ type: 'error', message: trimmed.replace(/^Error:?\s*/, '') }];
    if (/^Warning\b:?/.test(trimmed)) return [{ type: 'warning', message: trimmed.replace(/^Warning:?\s*/, '') }];
    if (/\b(Unable to open|Cannot (open|read|find))\b/i.test(trimmed)) return [{ type: 'warning', message: trimmed }];
    return [];
  }

  private progress(m: RegExpExecArray): BlenderEvent {
    const frame = Number(m[1]);
    if (frame !== this.frame || this.frameStartedAt === null) {
      this.frame = frame;
      this.frameStartedAt = this.now();
    }
    // The status is the last "|" field(s) after "<scene>, <view layer>".
    const fields = m[4]!.split('|').map((f) => f.trim());
    const layerIndex = fields.findIndex((f) => /^[^:]+, [^:]+$/.test(f));
    const status = (layerIndex >= 0 ? fields.slice(layerIndex + 1) : fields.slice(-1)).join(' | ');
    const event: Extract<BlenderEvent, { type: 'progress' }> = { type: 'progress', frame, status };
    const samples = SAMPLES.exec(status);
    if (samples) {
      event.sample = Number(samples[1]);
      event.samples = Number(samples[2]);
    }
    const peak = Number(m[2]);
    event.peakMemoryMb = m[3] === 'G' ? peak * 1024 : m[3] === 'K' ? peak / 1024 : peak;
    return event;
  }

  private flushTraceback(): BlenderEvent[] {
    if (!this.traceback) return [];
    const lines = this.traceback;
    this.traceback = null;
    const last = lines[lines.length - 1]!;
    return [{ type: 'error', message: lines.length > 1 ? last.trim() : 'Python traceback', traceback: lines.join('\n') }];
  }
}

/** Parse one chunk of output in one go (tests, logs read back from disk). */
export function parseBlenderOutput(text: string, options: ParserOptions = {}): BlenderEvent[] {
  const parser = new BlenderOutputParser(options);
  return [...parser.push(text), ...parser.end()];
}

/** "00:00.21", "01:02.50" or "1:02:03.00" → seconds. */
export function parseDuration(text: string): number | undefined {
  const parts = text.split(':').map(Number);
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !Number.isFinite(p))) return undefined;
  return parts.reduce((total, p) => total * 60 + p, 0);
}

function frameFromPath(path: string): number | null {
  const m = /(\d+)(?:\.[^./]*)?$/.exec(path);
  return m ? Number(m[1]) : null;
}
