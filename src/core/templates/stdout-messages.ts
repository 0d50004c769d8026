// The lines an OpenJD action prints to talk to the farm (How-Jobs-Are-Run: "Stdout messages"):
// progress, a status message, a failure, and (environments' onEnter) changes to the session's
// environment variables. Pure: no I/O.

export type StdoutMessage =
  | { kind: 'progress'; percent: number }
  | { kind: 'status'; message: string }
  | { kind: 'fail'; message: string }
  | { kind: 'env'; name: string; value: string; redacted: boolean }
  | { kind: 'unset_env'; name: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The message a line carries, or null for ordinary output (and malformed messages). */
export function parseStdoutMessage(line: string): StdoutMessage | null {
  const m = /^openjd_(progress|status|fail|env|redacted_env|unset_env): ?(.*)$/.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  const [, kind, rest] = m as unknown as [string, string, string];
  switch (kind) {
    case 'progress': {
      const percent = Number(rest.trim());
      return Number.isFinite(percent) && rest.trim() !== '' ? { kind: 'progress', percent: Math.min(100, Math.max(0, percent)) } : null;
    }
    case 'status':
      return { kind: 'status', message: rest };
    case 'fail':
      return { kind: 'fail', message: rest };
    case 'env':
    case 'redacted_env': {
      const eq = rest.indexOf('=');
      const name = eq > 0 ? rest.slice(0, eq).trim() : '';
      return ENV_NAME.test(name) ? { kind: 'env', name, value: rest.slice(eq + 1), redacted: kind === 'redacted_env' } : null;
    }
    default: {
      const name = rest.trim();
      return ENV_NAME.test(name) ? { kind: 'unset_env', name } : null;
    }
  }
}

/** Splits a stream of chunks into whole lines (the last partial line waits for more). */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    // A runaway line without newlines must not grow without bound.
    if (this.rest.length > 1 << 20) this.rest = this.rest.slice(-(1 << 16));
    for (const line of lines) this.onLine(line);
  }
  end(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = '';
  }
}
