// The coordinator's HTTP server: the API under /api/v1, its OpenAPI document, health checks and
// the web app. Every error leaves as {"error": {"code", "message"}}.
import Fastify, { type FastifyError, type FastifyInstance, type RouteOptions } from 'fastify';
import { Ajv, type Options as AjvOptions, type ValidateFunction } from 'ajv';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HttpError, errorBody } from './errors.js';
import { ErrorBody } from '../wire/common.js';
import { registerMetrics } from './metrics.js';
import type { ServiceContext } from './services/context.js';
import { principalResolver } from './api/principal.js';
import { accountRoutes } from './api/routes-account.js';
import { auditRoutes } from './api/routes-audit.js';
import { webhookRoutes } from './api/routes-webhooks.js';
import { blobRoutes } from './api/routes-blobs.js';
import { jobRoutes } from './api/routes-jobs.js';
import { taskRoutes } from './api/routes-tasks.js';
import { workerRoutes } from './api/routes-workers.js';
import { imageRoutes } from './api/routes-images.js';
import { agentRoutes } from './api/routes-agent.js';
import { closeAllSse } from './api/sse.js';
import { frameRoutes } from './api/routes-frames.js';
import { storageRoutes } from './api/routes-storage.js';
import { usageRoutes } from './api/routes-usage.js';
import { downloadRoutes } from './api/routes-downloads.js';
import { serveWebApp } from './web-app.js';
import { DROVER_VERSION } from '../version.js';

export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/**
 * Every API route answers its errors with the one error body (errors.ts): each route's OpenAPI
 * entry says so, beside the answers the route declares itself.
 */
function withErrorAnswers(route: RouteOptions): void {
  if ((route.schema as { hide?: boolean } | undefined)?.hide) return;
  route.schema = { ...route.schema, response: { '4xx': ErrorBody, '5xx': ErrorBody, ...(route.schema?.response as object | undefined) } };
}

/**
 * A route's validator, compiled by its first request rather than when the route is registered:
 * compiling every schema of the API was about a third of a coordinator's start (some 0.2 s of CPU
 * of 0.58), paid by every `drover server` and `drover up` whether or not the route is ever called.
 * Fastify reads `errors` off the function after a refusal, and passes the parent object to
 * validators that have a `schemaEnv` (Ajv's mark), so a coerced root value can be written back.
 */
function compiledOnFirstUse(ajv: Ajv, schema: unknown): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    compiled ??= ajv.compile(schema as object);
    const valid = compiled(data, context);
    validate.errors = compiled.errors;
    return valid;
  }) as ValidateFunction;
  // Read by Fastify before the first call: any truthy value makes it pass the parent object.
  validate.schemaEnv = true as unknown as ValidateFunction['schemaEnv'];
  return validate;
}

export async function buildServer(ctx: ServiceContext, joinToken: string, extraRoutes?: (api: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify({
    logger: ctx.config.logRequests ? { level: 'info', redact: ['req.headers.authorization', 'req.headers.cookie'] } : false,
    bodyLimit: 64 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, discriminator: true } },
    return503OnClosing: true,
    // TLS (`--tls-cert`/`--tls-key`): clients trust a private CA through NODE_EXTRA_CA_CERTS.
    ...(ctx.config.tls ? { https: { cert: readFileSync(ctx.config.tls.certFile), key: readFileSync(ctx.config.tls.keyFile) } } : {}),
  }) as unknown as FastifyInstance;

  // Query strings, paths and headers are text, so their numbers and lists are read from it; a JSON
  // body says its types itself: `"name": 123` is refused, not stored as "123".
  const ajvOptions: AjvOptions = { removeAdditional: false, useDefaults: true, allErrors: false, discriminator: true, addUsedSchema: false };
  const strictBodies = new Ajv({ ...ajvOptions, coerceTypes: false });
  const textParts = new Ajv({ ...ajvOptions, coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => compiledOnFirstUse(httpPart === 'body' ? strictBodies : textParts, schema));

  // Answers are declared in the routes' schemas (src/wire/) for the OpenAPI document and the
  // handlers' types, and leave as JSON.stringify writes them: a schema-driven serializer would drop
  // any field a schema does not name, and the web app, CLI and agent read every field they are sent.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Raw uploads arrive as a stream and are hashed on their way to disk; nothing buffers them.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) return reply.code(error.status).send(errorBody(error.code, error.message));
    if (error.validation) {
      const where = error.validationContext ?? 'request';
      // Name the offending field: "must NOT have additional properties" alone does not say which.
      const extra = error.validation.map((v) => (v.params as { additionalProperty?: string }).additionalProperty).find((p) => p !== undefined);
      const detail = extra !== undefined ? ` (unknown field "${extra}")` : '';
      return reply.code(400).send(errorBody('invalid_request', `${where}${error.message.replace(/^(body|querystring|params|headers)/, '')}${detail}`));
    }
    // A full disk anywhere (blob store, database) is the server's problem, said plainly.
    const sysCode = (error as { code?: string }).code;
    if (sysCode === 'ENOSPC' || sysCode === 'SQLITE_FULL') {
      console.error(`[coordinator] ${request.method} ${request.url.split('?')[0]}: out of disk space (${sysCode})`);
      return reply.code(507).send(errorBody('insufficient_storage', 'the coordinator is out of disk space; nothing was stored, try again later'));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
      return reply.code(status).send(errorBody(code, error.message));
    }
    request.log.error(error);
    console.error(`[coordinator] ${request.method} ${request.url.split('?')[0]}: ${error.stack ?? error.message}`);
    return reply.code(500).send(errorBody('internal', 'the coordinator failed to answer; the error is in its log'));
  });

  // A shutdown must not wait on streams that never end by themselves: end the event streams now
  // (clients reconnect to the next coordinator); long-polling agents are let go by their route.
  app.addHook('preClose', (done) => {
    closeAllSse();
    done();
  });

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Drover API', version: DROVER_VERSION, description: 'The coordinator of the Drover render farm. See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  registerMetrics(app, ctx);
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await ctx.db.selectFrom('users').select('id').limit(1).execute();
      return { ready: true };
    } catch {
      return reply.code(503).send(errorBody('not_ready', 'the store does not answer'));
    }
  });

  await app.register(
    async (api) => {
      api.addHook('onRequest', principalResolver(ctx));
      api.addHook('onRoute', withErrorAnswers);
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      api.get('/version', { schema: { hide: true } }, async () => ({ version: DROVER_VERSION }));
      accountRoutes(api, ctx);
      auditRoutes(api, ctx);
      webhookRoutes(api, ctx);
      blobRoutes(api, ctx);
      jobRoutes(api, ctx);
      taskRoutes(api, ctx);
      workerRoutes(api, ctx);
      imageRoutes(api, ctx);
      agentRoutes(api, ctx, joinToken);
      frameRoutes(api, ctx);
      storageRoutes(api, ctx);
      usageRoutes(api, ctx);
      downloadRoutes(api);
      extraRoutes?.(api);
    },
    { prefix: '/api/v1' },
  );

  await serveWebApp(app, WEB_DIST);
  return app;
}
