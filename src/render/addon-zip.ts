// The Blender add-on as Blender installs it: a zip holding the `drover_blender` package, with
// Drover's Python SDK inside it as `drover_blender/sdk` (the add-on speaks to the farm through it).
// `drover blender-addon -o FILE.zip` writes it and the coordinator serves it to the web app.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ZipFile } from 'yazl';

const ADDON_DIR = fileURLToPath(new URL('../../blender-addon/drover_blender/', import.meta.url));
const SDK_DIR = fileURLToPath(new URL('../../python/drover/', import.meta.url));
export const ADDON_MODULE = 'drover_blender';

/** Fixed, so the same sources always make the same zip bytes. */
const MTIME = new Date('2026-01-01T00:00:00Z');

const shipped = (name: string) => name.endsWith('.py') || name === 'py.typed';

async function addFolder(zip: ZipFile, dir: string, prefix: string): Promise<void> {
  for (const name of (await readdir(dir)).filter(shipped).sort()) {
    zip.addBuffer(await readFile(join(dir, name)), `${prefix}/${name}`, { mtime: MTIME, mode: 0o100644 });
  }
}

export async function blenderAddonZip(): Promise<Buffer> {
  const zip = new ZipFile();
  await addFolder(zip, ADDON_DIR, ADDON_MODULE);
  await addFolder(zip, SDK_DIR, `${ADDON_MODULE}/sdk`);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
