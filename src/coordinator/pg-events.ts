// Carries EventBus events between coordinator replicas that share a PostgreSQL store: each replica
// NOTIFYs what it emits on one channel and LISTENs for what the others emit, so an SSE stream or a
// long-polling agent on any replica wakes for a change made through any other.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import * as logsRepo from '../store/repositories/logs.js';
import type { Database } from '../store/schema.js';
import type { BusEvent, EventBus, EventRelay } from './events.js';

export const EVENTS_CHANNEL = 'drover_events';

/** NOTIFY payloads must stay under 8000 bytes; leave room for the envelope. */
const MAX_PAYLOAD_BYTES = 7500;
/** Events waiting to be sent while the store is slow or away; past this, the oldest are dropped. */
const MAX_PENDING = 10_000;
const RECONNECT_MS = 1000;

/** A log event too big to travel inline: the receiver reads the entry from the store by its seq. */
interface LogRef {
  type: 'logref';
  taskId: string;
  seq: number;
}

type Wire = BusEvent | LogRef;

interface Envelope {
  /** The sending replica, so it can ignore its own echo. */
  o: string;
  e: Wire[];
}

/** An event waiting to be sent, as its JSON, and its coalescing key if it has one. */
interface Pending {
  text: string;
  key: string | null;
}

/**
 * Events whose repeat says nothing new while one is still unsent: a receiver reads the job afresh
 * (or looks for work) when the event arrives, which is after every change published since. A farm of
 * thousands of agents publishes a job event per lease and per report; sent one by one they made
 * the queue outgrow what one NOTIFY at a time carries, and events were dropped.
 */
function coalescingKey(event: BusEvent): string | null {
  if (event.type === 'work') return 'work';
  if (event.type === 'job') return `job:${event.args[0]}`;
  return null;
}

export class PgEventRelay implements EventRelay {
  readonly origin = randomBytes(8).toString('base64url');
  private listener: pg.Client | null = null;
  /** Unsent events from `head` on (taken from the front by moving `head`: shifting was O(n) each). */
  private pending: Pending[] = [];
  private head = 0;
  /** Keys of the unsent events that have one (coalescingKey). */
  private readonly pendingKeys = new Set<string>();
  private flushing: Promise<void> | null = null;
  /** Received events are delivered strictly in order, even when one must first be read back. */
  private delivering: Promise<void> = Promise.resolve();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly bus: EventBus,
    private readonly db: Kysely<Database>,
  ) {}

  /** Listens on the channel and makes `bus` publish through it. */
  static async start(opts: { url: string; pool: pg.Pool; bus: EventBus; db: Kysely<Database> }): Promise<PgEventRelay> {
    const relay = new PgEventRelay(opts.url, opts.pool, opts.bus, opts.db);
    await relay.listen();
    opts.bus.setRelay(relay);
    return relay;
  }

  publish(event: BusEvent): void {
    if (this.closed) return;
    const key = coalescingKey(event);
    if (key !== null) {
      if (this.pendingKeys.has(key)) return;
      this.pendingKeys.add(key);
    }
    this.pending.push({ text: JSON.stringify(this.wireOf(event)), key });
    if (this.queued() > MAX_PENDING) this.take();
    this.kick();
  }

  private queued(): number {
    return this.pending.length - this.head;
  }

  /** The oldest unsent event, off the queue. */
  private take(): Pending {
    const item = this.pending[this.head++]!;
    if (item.key !== null) this.pendingKeys.delete(item.key);
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  private kick(): void {
    if (this.flushing || this.closed) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
      // Anything published between the last batch and now still goes out.
      if (this.queued() > 0) this.kick();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.flushing;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    await this.delivering;
  }

  private wireOf(event: BusEvent): Wire {
    if (event.type !== 'log') return event;
    const inline = JSON.stringify(event);
    if (Buffer.byteLength(inline) <= MAX_PAYLOAD_BYTES - 100) return event;
    return { type: 'logref', taskId: event.args[0].taskId, seq: event.args[0].seq };
  }

  /**
   * Sends pending events in order, several per NOTIFY. One NOTIFY at a time: notifications reach
   * listeners in commit order, so log entries arrive in the order they were stored.
   */
  private async flush(): Promise<void> {
    while (this.queued() > 0 && !this.closed) {
      const batch: string[] = [];
      let bytes = 0;
      while (this.queued() > 0) {
        const next = this.pending[this.head]!.text;
        const size = Buffer.byteLength(next) + 1;
        if (batch.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) break;
        batch.push(next);
        bytes += size;
        this.take();
      }
      const payload = `{"o":${JSON.stringify(this.origin)},"e":[${batch.join(',')}]}`;
      try {
        await this.pool.query('select pg_notify($1, $2)', [EVENTS_CHANNEL, payload]);
      } catch (err) {
        // Other replicas miss these events; their pollers and streams still time out and re-read.
        if (!this.closed) console.error(`[events] NOTIFY failed, ${batch.length} event(s) not relayed: ${(err as Error).message}`);
      }
    }
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      if (msg.channel !== EVENTS_CHANNEL || !msg.payload) return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(msg.payload) as Envelope;
      } catch {
        return;
      }
      if (envelope.o === this.origin) return;
      this.delivering = this.delivering.then(() => this.deliverAll(envelope.e)).catch((err: Error) => console.error(`[events] delivering a relayed event failed: ${err.message}`));
    });
    const lost = (err?: Error) => {
      if (this.closed || this.listener !== client) return;
      console.error(`[events] the LISTEN connection was lost${err ? `: ${err.message}` : ''}; reconnecting`);
      this.listener = null;
      client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.listener = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen()
        .then(() => {
          // Events sent meanwhile are lost: wake long-polling agents so they look for work now.
          this.bus.deliver({ type: 'work', args: [] });
        })
        .catch(() => this.scheduleReconnect());
    }, RECONNECT_MS);
  }

  private async deliverAll(events: readonly Wire[]): Promise<void> {
    for (const e of events) {
      if (this.closed) return;
      if (e.type !== 'logref') {
        this.bus.deliver(e);
        continue;
      }
      const [row] = await logsRepo.readLogs(this.db, e.taskId, { after: e.seq - 1, limit: 1 });
      if (!row || Number(row.id) !== e.seq) continue;
      this.bus.deliver({ type: 'log', args: [{ seq: e.seq, taskId: e.taskId, attempt: row.attempt, stream: row.stream, data: row.data, time: row.created_at }] });
    }
  }
}
