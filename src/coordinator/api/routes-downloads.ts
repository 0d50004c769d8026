// Software users download from the web app: the Blender add-on zip (the same bytes as
// `drover blender-addon -o FILE.zip`). It holds no secret, so it needs no sign-in.
import type { FastifyInstance } from 'fastify';
import { ADDON_MODULE, blenderAddonZip } from '../../render/addon-zip.js';

export function downloadRoutes(app: FastifyInstance): void {
  let zip: Promise<Buffer> | null = null; // built once: the sources do not change while the coordinator runs
  app.get('/downloads/blender-addon.zip', { schema: { tags: ['downloads'] } }, async (_request, reply) => {
    zip ??= blenderAddonZip().catch((err: unknown) => {
      zip = null;
      throw err;
    });
    reply.header('content-type', 'application/zip');
    reply.header('content-disposition', `attachment; filename="${ADDON_MODULE}.zip"`);
    return reply.send(await zip);
  });
}
