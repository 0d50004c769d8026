// Failed sign-ins per user name and address within a window; past the limit, that key waits out
// the window (even the right password is refused meanwhile). Memory is bounded without letting an
// attacker wipe the lockouts: when full, expired entries go first, then the oldest keys that are
// not locked out; a locked key is kept until its window ends.
import { tooManyRequests } from '../errors.js';

export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.failures.size;
  }

  check(key: string): void {
    const entry = this.failures.get(key);
    if (entry && this.now() - entry.since < this.windowMs && entry.count >= this.limit) {
      throw tooManyRequests('too many failed sign-ins; wait a minute and try again');
    }
  }

  fail(key: string): void {
    const entry = this.failures.get(key);
    if (!entry || this.now() - entry.since >= this.windowMs) {
      this.failures.delete(key);
      if (this.failures.size >= this.maxKeys) this.makeRoom();
      this.failures.set(key, { count: 1, since: this.now() });
    } else entry.count++;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private locked(entry: { count: number; since: number }): boolean {
    return entry.count >= this.limit && this.now() - entry.since < this.windowMs;
  }

  /** Frees about a tenth of the room: expired entries, then the oldest keys not locked out. */
  private makeRoom(): void {
    const target = Math.floor(this.maxKeys * 0.9);
    for (const [key, entry] of this.failures) {
      if (this.now() - entry.since >= this.windowMs) this.failures.delete(key);
    }
    // Map order is insertion order: the oldest keys come first.
    for (const [key, entry] of this.failures) {
      if (this.failures.size <= target) break;
      if (!this.locked(entry)) this.failures.delete(key);
    }
  }
}
