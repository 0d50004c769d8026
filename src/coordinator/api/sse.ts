// Server-sent events over a hijacked reply, with a keep-alive comment so proxies keep it open.
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  close(): void;
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

/** Open streams, so a coordinator that shuts down can end them instead of waiting on them. */
const openStreams = new Set<SseStream>();

export function closeAllSse(): void {
  for (const s of [...openStreams]) s.close();
}

export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': connected\n\n');
  const closers: (() => void)[] = [];
  let closed = false;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const finish = () => {
    if (closed) return;
    closed = true;
    openStreams.delete(stream);
    clearInterval(keepAlive);
    for (const fn of closers) fn();
  };
  request.raw.on('close', finish);
  const stream: SseStream = {
    send(event, data, id) {
      if (closed) return;
      res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      finish();
      res.end();
    },
    onClose(fn) {
      closers.push(fn);
    },
    get closed() {
      return closed;
    },
  };
  openStreams.add(stream);
  return stream;
}
