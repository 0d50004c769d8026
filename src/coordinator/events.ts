// In-process notifications: what changed, so SSE streams and long-polling agents wake at once.
import { EventEmitter } from 'node:events';

export interface LogEvent {
  seq: number;
  taskId: string;
  attempt: number;
  stream: string;
  data: string;
  time: string;
}

interface EventMap {
  job: [jobId: string];
  task: [taskId: string, jobId: string];
  log: [LogEvent];
  work: [];
}

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<K extends keyof EventMap>(event: K, ...args: EventMap[K]): void {
    this.emitter.emit(event, ...args);
  }

  /** Subscribes and returns the function that unsubscribes. */
  on<K extends keyof EventMap>(event: K, listener: (...args: EventMap[K]) => void): () => void {
    this.emitter.on(event, listener as (...a: unknown[]) => void);
    return () => this.emitter.off(event, listener as (...a: unknown[]) => void);
  }
}
