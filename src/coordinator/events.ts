// In-process notifications: what changed, so SSE streams and long-polling agents wake at once.
// With coordinator replicas a relay (PostgreSQL LISTEN/NOTIFY) carries each event to the others.
import { EventEmitter } from 'node:events';

export interface LogEvent {
  seq: number;
  taskId: string;
  attempt: number;
  stream: string;
  data: string;
  time: string;
}

export interface EventMap {
  job: [jobId: string];
  task: [taskId: string, jobId: string];
  log: [LogEvent];
  work: [];
}

/** One event as a value, for relays. */
export type BusEvent = { [K in keyof EventMap]: { type: K; args: EventMap[K] } }[keyof EventMap];

/** Carries events to other replicas; what they emit comes back through `EventBus.deliver`. */
export interface EventRelay {
  publish(event: BusEvent): void;
}

export class EventBus {
  private readonly emitter = new EventEmitter();
  private relay: EventRelay | null = null;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  setRelay(relay: EventRelay | null): void {
    this.relay = relay;
  }

  /** An event another replica emitted: for local listeners only, never relayed again. */
  deliver(event: BusEvent): void {
    this.emitter.emit(event.type, ...event.args);
  }

  emit<K extends keyof EventMap>(event: K, ...args: EventMap[K]): void {
    this.emitter.emit(event, ...args);
    this.relay?.publish({ type: event, args } as BusEvent);
  }

  /** Subscribes and returns the function that unsubscribes. */
  on<K extends keyof EventMap>(event: K, listener: (...args: EventMap[K]) => void): () => void {
    this.emitter.on(event, listener as (...a: unknown[]) => void);
    return () => this.emitter.off(event, listener as (...a: unknown[]) => void);
  }
}
