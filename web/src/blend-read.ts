// Reads a picked .blend's render settings in the browser (src/core/blend-scene.ts), unpacking it
// first when Blender compressed it: gzip (Blender < 3.0, the browser's DecompressionStream) or
// zstd (Blender ≥ 3.0, fzstd). The render form fills its frame range from it and shows the rest.
import { decompress } from 'fzstd';
import { blendPacking, BlendReadError, readBlendScenes, type BlendContents } from '../../src/core/blend-scene.ts';

export type { BlendContents, BlendScene } from '../../src/core/blend-scene.ts';

/** Larger files are not read here (the form asks instead): a whole file is held in memory. */
const MAX_READ_BYTES = 1024 ** 3;

export async function readBlendSettings(file: Blob): Promise<BlendContents> {
  if (file.size > MAX_READ_BYTES) throw new BlendReadError('the file is too large to read in the browser');
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const packing = blendPacking(head);
  if (packing === null) throw new BlendReadError('not a Blender file');
  let bytes: Uint8Array;
  if (packing === 'plain') bytes = new Uint8Array(await file.arrayBuffer());
  else if (packing === 'zstd') bytes = decompress(new Uint8Array(await file.arrayBuffer()));
  else bytes = new Uint8Array(await new Response(file.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return readBlendScenes(bytes);
}
