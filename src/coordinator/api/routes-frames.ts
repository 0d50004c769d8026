// Render frames: listed and served to the job's owner, uploaded by the agent rendering them.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { notFound } from '../errors.js';
import type { ServiceContext } from '../services/context.js';
import { recordFrameUpload } from '../services/frames.js';
import { framePageOf, readyPreview, renderedFrame } from '../services/frame-views.js';
import { jobFor } from '../services/jobs.js';
import { requireAgent, requireUser } from './principal.js';
import { FrameListQuery, FramePage, FrameParams, FrameUploadBody, JobIdParams, PreviewFramesAnswer, PreviewFramesQuery, TaskIdParams } from '../../wire/index.js';
import { previewFramesFrom } from '../kinds/render/preview.js';

const MIME: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', tif: 'image/tiff', exr: 'image/x-exr', mp4: 'video/mp4' };

async function sendBlob(ctx: ServiceContext, reply: FastifyReply, sha256: string | null, fileName: string): Promise<FastifyReply> {
  if (!sha256) throw notFound(`${fileName}`);
  const size = await ctx.blobs.size(sha256);
  if (size === null) throw notFound(`${fileName}`);
  const ext = fileName.split('.').pop()?.toLowerCase() ?? '';
  reply.header('content-type', MIME[ext] ?? 'application/octet-stream');
  reply.header('content-length', size);
  // Content-addressed: the bytes behind a hash never change.
  reply.header('cache-control', 'private, max-age=31536000, immutable');
  return reply.send(ctx.blobs.read(sha256));
}

export function frameRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Aborted when the coordinator shuts down: waiting preview tasks are answered at once.
  const closing = new AbortController();
  app.addHook('preClose', (done) => {
    closing.abort();
    done();
  });

  r.get('/jobs/:id/frames', { schema: { params: JobIdParams, querystring: FrameListQuery, response: { 200: FramePage }, tags: ['render'] } }, async (request) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    return framePageOf(ctx, job, request.query.offset ?? 0, request.query.limit ?? 1000);
  });

  for (const variant of ['image', 'thumbnail', 'preview'] as const) {
    r.get(`/jobs/:id/frames/:frame/${variant}`, { schema: { params: FrameParams, tags: ['render'] } }, async (request, reply) => {
      const job = await jobFor(ctx, requireUser(request), request.params.id);
      const frame = await renderedFrame(ctx, job, request.params.frame);
      if (variant === 'image') return sendBlob(ctx, reply, frame.sha256, frame.path ?? 'frame');
      return sendBlob(ctx, reply, variant === 'thumbnail' ? frame.thumb_sha : frame.preview_sha, `${variant} of frame ${frame.frame}.jpg`);
    });
  }

  r.get('/jobs/:id/preview.mp4', { schema: { params: JobIdParams, tags: ['render'] } }, async (request, reply) => {
    const job = await jobFor(ctx, requireUser(request), request.params.id);
    const preview = await readyPreview(ctx, job);
    return sendBlob(ctx, reply, preview.sha256, 'preview.mp4');
  });

  // The preview task's frames as they are recorded (it starts while the last chunks still render).
  r.get('/agent/tasks/:id/preview-frames', { schema: { params: TaskIdParams, querystring: PreviewFramesQuery, response: { 200: PreviewFramesAnswer }, tags: ['agents'] } }, async (request, reply) => {
    const agent = requireAgent(request);
    // The agent hung up (not `request.raw`: its body was read, so it is already closed), or the coordinator stops.
    const gone = new AbortController();
    const onGone = () => gone.abort();
    reply.raw.once('close', onGone);
    try {
      return { frames: await previewFramesFrom(ctx, agent, request.params.id, request.query, AbortSignal.any([gone.signal, closing.signal])) };
    } finally {
      reply.raw.off('close', onGone);
    }
  });

  r.post('/agent/tasks/:id/frames', { schema: { params: TaskIdParams, body: FrameUploadBody, tags: ['agents'] } }, async (request, reply) => {
    const { thumbnail, preview, renderMs, ...rest } = request.body;
    await recordFrameUpload(ctx, requireAgent(request), request.params.id, {
      ...rest,
      ...(thumbnail ? { thumbnail } : {}),
      ...(preview ? { preview } : {}),
      ...(renderMs !== undefined ? { renderMs } : {}),
    });
    return reply.code(204).send();
  });
}
