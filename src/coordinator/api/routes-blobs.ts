// Content-addressed uploads: ask which files are missing, send only those.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { BlobHashMismatchError, BlobStorageFullError, BlobTooLargeError } from '../../store/blob-store.js';
import { type ServiceContext, nowIso } from '../services/context.js';
import { claimBlobsInUse, missingBlobs, recordStoredBlobs } from '../services/blob-uploads.js';
import { badRequest, insufficientStorage, notFound, tooLarge, unauthorized } from '../errors.js';
import { requireAgent } from './principal.js';
import { MissingBlobsAnswer, MissingBlobsBody, ShaParams } from '../../wire/index.js';
import { BLOB_BATCH_MAX_BYTES, BLOB_BATCH_TYPE, parseBlobBatch } from '../../core/blob-batch.js';

export function blobRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // Who asks is checked before what is asked: an anonymous caller learns nothing about the body.
  const signedIn = async (request: { principal: unknown }) => {
    if (!request.principal) throw unauthorized('sign in first');
  };

  r.post('/blobs/missing', { schema: { body: MissingBlobsBody, response: { 200: MissingBlobsAnswer }, tags: ['files'] }, preValidation: signedIn }, async (request) => {
    const p = request.principal;
    if (!p) throw unauthorized('sign in first');
    return { missing: await missingBlobs(ctx, p, [...new Set(request.body.hashes)]) };
  });

  r.put('/blobs/:sha256', { schema: { params: ShaParams, tags: ['files'] }, preValidation: signedIn }, async (request, reply) => {
    const p = request.principal;
    if (!p) throw unauthorized('sign in first');
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > ctx.config.maxUploadBytes) throw tooLarge(`the file is ${declared} bytes; the limit is ${ctx.config.maxUploadBytes}`);
    const body = request.body as Readable | undefined;
    if (!body || typeof (body as Readable).pipe !== 'function') throw badRequest('send the file as raw bytes with Content-Type: application/octet-stream');
    let stored;
    // Claimed before a byte is written: a collection running meanwhile leaves this content alone.
    await claimBlobsInUse(ctx, [request.params.sha256]);
    try {
      await ctx.blobs.assertRoomFor?.(Number.isFinite(declared) ? declared : 0);
      stored = await ctx.blobs.put(body, request.params.sha256, ctx.config.maxUploadBytes);
    } catch (err) {
      if (err instanceof BlobHashMismatchError) throw badRequest(err.message);
      if (err instanceof BlobTooLargeError) throw tooLarge(err.message);
      if (err instanceof BlobStorageFullError) throw insufficientStorage(`${err.message}; nothing was stored`);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw insufficientStorage('the coordinator ran out of disk space while storing the file; nothing was stored');
      throw err;
    }
    await recordStoredBlobs(ctx, p, [stored]);
    return reply.code(201).send(stored);
  });

  // Many small files in one request (a form's thousands of data files): each record is checked
  // against its sha256 before any is stored, so a bad batch stores nothing.
  r.addContentTypeParser(BLOB_BATCH_TYPE, { parseAs: 'buffer', bodyLimit: BLOB_BATCH_MAX_BYTES }, (_req, body, done) => done(null, body));
  r.post('/blobs/batch', { schema: { tags: ['files'] }, bodyLimit: BLOB_BATCH_MAX_BYTES }, async (request, reply) => {
    const p = request.principal;
    if (!p) throw badRequest('sign in first');
    const body = request.body;
    if (!Buffer.isBuffer(body)) throw badRequest(`send the files as ${BLOB_BATCH_TYPE} (see docs/api.md)`);
    const batch = parseBlobBatch(body);
    if ('error' in batch) throw badRequest(batch.error);
    for (const record of batch.records) {
      const actual = createHash('sha256').update(record.bytes).digest('hex');
      if (actual !== record.sha256) throw badRequest(`file ${record.index + 1} of the batch hashes to ${actual}, not ${record.sha256}; nothing was stored`);
    }
    const stored = [];
    const now = nowIso();
    await claimBlobsInUse(ctx, batch.records.map((r) => r.sha256), now);
    try {
      await ctx.blobs.assertRoomFor?.(body.length);
      for (const record of batch.records) stored.push(await ctx.blobs.put(Readable.from([record.bytes]), record.sha256, ctx.config.maxUploadBytes));
    } catch (err) {
      if (err instanceof BlobStorageFullError) throw insufficientStorage(`${err.message}; ${stored.length} of the batch's files were stored`);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw insufficientStorage(`the coordinator ran out of disk space; ${stored.length} of the batch's files were stored`);
      throw err;
    }
    await recordStoredBlobs(ctx, p, stored, now);
    return reply.code(201).send({ stored });
  });

  // `?presigned=1`: the agent can fetch from the store itself; it gets `{ url }`, a short-lived URL
  // that carries its own authorization (the agent's token never goes to the store). Stores without
  // such URLs, or with them turned off, answer with the bytes as before.
  const BlobQuery = Type.Object({ presigned: Type.Optional(Type.String()) });
  r.get('/blobs/:sha256', { schema: { params: ShaParams, querystring: BlobQuery, tags: ['agents'] } }, async (request, reply) => {
    requireAgent(request);
    const size = await ctx.blobs.size(request.params.sha256);
    if (size === null) throw notFound(`file ${request.params.sha256}`);
    const url = request.query.presigned === '1' ? await ctx.blobs.downloadUrl(request.params.sha256) : null;
    if (url) return reply.header('cache-control', 'no-store').send({ url, size });
    reply.header('content-type', 'application/octet-stream').header('content-length', size);
    return reply.send(ctx.blobs.read(request.params.sha256));
  });
}
