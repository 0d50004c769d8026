// In-process notifications: what changed, so SSE streams and long-polling agents wake at once.
// With coordinator replicas a relay (PostgreSQL LISTEN/NOTIFY) carries each event to the others.
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
  // Sets, not an EventEmitter: a thousand agents long-polling subscribe and unsubscribe on every
  // lease, and an emitter's removal walks the whole listener array each time.
  private readonly listeners = new Map<keyof EventMap, Set<(...args: never[]) => void>>();
  private relay: EventRelay | null = null;

  setRelay(relay: EventRelay | null): void {
    this.relay = relay;
  }

  /** An event another replica emitted: for local listeners only, never relayed again. */
  deliver(event: BusEvent): void {
    this.dispatch(event.type, event.args);
  }

  emit<K extends keyof EventMap>(event: K, ...args: EventMap[K]): void {
    this.dispatch(event, args);
    this.relay?.publish({ type: event, args } as BusEvent);
  }

  /** Subscribes and returns the function that unsubscribes. */
  on<K extends keyof EventMap>(event: K, listener: (...args: EventMap[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    // Wrapped, so the same function subscribed twice is two subscriptions (as with an emitter).
    const entry = (...args: never[]) => listener(...(args as unknown as EventMap[K]));
    set.add(entry);
    return () => void set.delete(entry);
  }

  private dispatch<K extends keyof EventMap>(event: K, args: EventMap[K]): void {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return;
    // A snapshot: listeners (un)subscribe while they run, and those added now wait for the next event.
    for (const listener of [...set]) (listener as (...a: EventMap[K]) => void)(...args);
  }
}
