// The render settings of a .blend read from its bytes, without Blender: so the web app can fill the
// render form (frame range, resolution, output format) from the file a person picked. Pure: the
// caller hands the (decompressed) bytes. A .blend is a header, then blocks (a code, a length, the
// address the data had in memory, a struct index, a count) and one block, DNA1, that describes
// every struct's fields (the "SDNA"): fields are found by name, so files of other Blender versions
// read alike. Scenes are the SC blocks; the active one is FileGlobal.curscene (the GLOB block).

export interface BlendScene {
  name: string;
  frameStart: number;
  frameEnd: number;
  frameStep: number;
  /** Frames per second, rounded to 3 decimals for showing (23.976). */
  fps: number;
  /** The exact rate, num / den, as Blender keeps it (fps and fps_base: 24 / 1.001 for NTSC film). */
  fpsRational: { num: number; den: number };
  resolution: { x: number; y: number; percentage: number };
  /** Blender's enum name (PNG, JPEG, OPEN_EXR, TIFF, FFMPEG…), or IMTYPE_<n> for a code unknown here. */
  fileFormat: string;
  engine: string;
  /** Cycles' or Eevee's render samples when the file says them; null otherwise (engine default). */
  samples: number | null;
}

export interface BlendContents {
  /** "3.04" style, from the header. */
  version: string;
  scenes: BlendScene[];
  /** The scene Blender renders without --scene (the file's current scene). */
  active: BlendScene | null;
}

export class BlendReadError extends Error {
  override name = 'BlendReadError';
}

/** How the bytes are packed: a plain .blend, gzip (Blender < 3.0) or zstd (Blender ≥ 3.0), or none of these. */
export function blendPacking(bytes: Uint8Array): 'plain' | 'gzip' | 'zstd' | null {
  if (ascii(bytes, 0, 7) === 'BLENDER') return 'plain';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) return 'zstd';
  return null;
}

/** Blender's R_IMF_IMTYPE_* codes (DNA_scene_types.h) as its Python enum names them. */
const IMAGE_TYPES: Record<number, string> = {
  0: 'TARGA',
  1: 'IRIS',
  4: 'JPEG',
  14: 'TARGA_RAW',
  15: 'AVI_RAW',
  16: 'AVI_JPEG',
  17: 'PNG',
  20: 'BMP',
  21: 'HDR',
  22: 'TIFF',
  23: 'OPEN_EXR',
  24: 'FFMPEG',
  26: 'CINEON',
  27: 'DPX',
  28: 'OPEN_EXR_MULTILAYER',
  29: 'DDS',
  30: 'JPEG2000',
  35: 'WEBP',
};

const IDP_INT = 1;
const IDP_GROUP = 6;

interface Field {
  type: string;
  name: string;
  offset: number;
  size: number;
  pointer: boolean;
  count: number;
}

interface Struct {
  type: string;
  size: number;
  fields: Map<string, Field>;
}

interface Block {
  code: string;
  address: string;
  sdna: number;
  start: number;
  length: number;
}

export function readBlendScenes(bytes: Uint8Array): BlendContents {
  if (ascii(bytes, 0, 7) !== 'BLENDER') throw new BlendReadError('not an uncompressed .blend (no BLENDER header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Two headers: "BLENDER-v304" (12 bytes: pointer size, endianness, version) and, from Blender
  // 5.0, "BLENDER17-01v0500" (17 bytes, 64-bit block headers).
  let pointerSize: 4 | 8;
  let little: boolean;
  let version: string;
  let offset: number;
  let large = false;
  if (bytes[7] === 0x5f || bytes[7] === 0x2d) {
    pointerSize = bytes[7] === 0x5f ? 4 : 8;
    little = bytes[8] === 0x76;
    version = ascii(bytes, 9, 12);
    offset = 12;
  } else {
    const headerSize = Number(ascii(bytes, 7, 9));
    if (!Number.isInteger(headerSize) || headerSize < 17) throw new BlendReadError('unknown .blend header');
    pointerSize = 8;
    large = true;
    little = bytes[12] === 0x76;
    version = ascii(bytes, 13, 17);
    offset = headerSize;
  }
  version = `${Number(version.slice(0, -2))}.${version.slice(-2)}`;

  const u32 = (at: number) => view.getUint32(at, little);
  const address = (at: number) => {
    if (pointerSize === 4) return u32(at).toString(16);
    const a = u32(at);
    const b = u32(at + 4);
    return (little ? b * 2 ** 32 + a : a * 2 ** 32 + b).toString(16);
  };

  // ---- the blocks
  const blocks: Block[] = [];
  let dna: Block | undefined;
  while (offset + 8 <= bytes.length) {
    const code = ascii(bytes, offset, offset + 4).replace(/\0+$/, '');
    if (code === 'ENDB') break;
    let block: Block;
    if (large) {
      // code, sdna index (4), old address (8), length (8), count (8)
      const length = Number(view.getBigInt64(offset + 16, little));
      block = { code, sdna: u32(offset + 4), address: address(offset + 8), start: offset + 32, length };
    } else {
      const length = u32(offset + 4);
      block = { code, address: address(offset + 8), sdna: u32(offset + 8 + pointerSize), start: offset + 16 + pointerSize, length };
    }
    if (block.start + block.length > bytes.length) throw new BlendReadError('the .blend is cut short');
    if (code === 'DNA1') dna = block;
    blocks.push(block);
    offset = block.start + block.length;
  }
  if (!dna) throw new BlendReadError('the .blend has no DNA1 block');
  const structs = readSdna(bytes, view, little, pointerSize, dna);
  const byAddress = new Map(blocks.map((b) => [b.address, b]));

  // ---- reading fields by path ("r.im_format.imtype") in a block of a known struct
  const fieldAt = (structIndex: number, path: string): Field & { at: number } => {
    let struct = structs[structIndex];
    let at = 0;
    const parts = path.split('.');
    for (let i = 0; i < parts.length; i++) {
      const field = struct?.fields.get(parts[i]!);
      if (!struct || !field) throw new BlendReadError(`the .blend has no field ${path}`);
      at += field.offset;
      if (i === parts.length - 1) return { ...field, at };
      struct = structs.find((s) => s.type === field.type);
    }
    throw new BlendReadError(`the .blend has no field ${path}`);
  };
  const number = (block: Block, path: string): number => {
    const f = fieldAt(block.sdna, path);
    const at = block.start + f.at;
    switch (f.type) {
      case 'char':
      case 'uchar':
      case 'int8_t':
      case 'uint8_t':
        return f.type === 'char' || f.type === 'int8_t' ? view.getInt8(at) : view.getUint8(at);
      case 'short':
        return view.getInt16(at, little);
      case 'ushort':
        return view.getUint16(at, little);
      case 'int':
        return view.getInt32(at, little);
      case 'float':
        return view.getFloat32(at, little);
      case 'double':
        return view.getFloat64(at, little);
      default:
        throw new BlendReadError(`field ${path} is a ${f.type}`);
    }
  };
  const text = (block: Block, path: string): string => {
    const f = fieldAt(block.sdna, path);
    const at = block.start + f.at;
    const end = bytes.indexOf(0, at);
    return new TextDecoder().decode(bytes.subarray(at, end === -1 || end > at + f.size ? at + f.size : end));
  };
  const pointer = (block: Block, path: string): string => address(block.start + fieldAt(block.sdna, path).at);
  const optional = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch (e) {
      if (e instanceof BlendReadError) return null;
      throw e;
    }
  };

  // Cycles keeps its settings as ID properties: scene["cycles"]["samples"].
  const idProperty = (groupAddress: string, name: string): Block | null => {
    const group = byAddress.get(groupAddress);
    if (!group) return null;
    let child = byAddress.get(pointer(group, 'data.group.first'));
    for (let guard = 0; child && guard < 10_000; guard++) {
      if (text(child, 'name') === name) return child;
      child = byAddress.get(pointer(child, 'next'));
    }
    return null;
  };
  const samplesOf = (scene: Block, engine: string): number | null => {
    if (engine === 'CYCLES') {
      const cycles = optional(() => idProperty(pointer(scene, 'id.properties'), 'cycles'));
      if (!cycles || number(cycles, 'type') !== IDP_GROUP) return null;
      const samples = optional(() => idProperty(cycles.address, 'samples'));
      return samples && number(samples, 'type') === IDP_INT ? number(samples, 'data.val') : null;
    }
    if (engine.startsWith('BLENDER_EEVEE')) return optional(() => number(scene, 'eevee.taa_render_samples'));
    return null;
  };

  const scenes: (BlendScene & { address: string })[] = [];
  for (const block of blocks) {
    if (block.code !== 'SC') continue;
    const engine = optional(() => text(block, 'r.engine')) ?? '';
    const imtype = number(block, 'r.im_format.imtype');
    const fpsBase = optional(() => number(block, 'r.frs_sec_base')) ?? 1;
    scenes.push({
      address: block.address,
      name: text(block, 'id.name').slice(2),
      frameStart: number(block, 'r.sfra'),
      frameEnd: number(block, 'r.efra'),
      frameStep: optional(() => number(block, 'r.frame_step')) ?? 1,
      fps: Math.round((number(block, 'r.frs_sec') / (fpsBase || 1)) * 1000) / 1000,
      fpsRational: { num: number(block, 'r.frs_sec'), den: fpsBase || 1 },
      resolution: { x: number(block, 'r.xsch'), y: number(block, 'r.ysch'), percentage: number(block, 'r.size') },
      fileFormat: IMAGE_TYPES[imtype] ?? `IMTYPE_${imtype}`,
      engine,
      samples: samplesOf(block, engine),
    });
  }
  if (scenes.length === 0) throw new BlendReadError('the .blend holds no scene');
  const glob = blocks.find((b) => b.code === 'GLOB');
  const current = glob ? optional(() => pointer(glob, 'curscene')) : null;
  const active = scenes.find((s) => s.address === current) ?? scenes[0]!;
  const strip = ({ address: _address, ...scene }: BlendScene & { address: string }): BlendScene => scene;
  return { version, scenes: scenes.map(strip), active: strip(active) };
}

/** The SDNA: every struct's fields with their offsets and sizes. */
function readSdna(bytes: Uint8Array, view: DataView, little: boolean, pointerSize: number, dna: Block): Struct[] {
  let at = dna.start;
  const expect = (tag: string) => {
    if (ascii(bytes, at, at + 4) !== tag) throw new BlendReadError(`the .blend's DNA1 block has no ${tag}`);
    at += 4;
  };
  const align = () => {
    at = dna.start + Math.ceil((at - dna.start) / 4) * 4;
  };
  const strings = (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const end = bytes.indexOf(0, at);
      out.push(ascii(bytes, at, end));
      at = end + 1;
    }
    return out;
  };
  expect('SDNA');
  expect('NAME');
  const names = strings(view.getUint32((at += 4) - 4, little));
  align();
  expect('TYPE');
  const types = strings(view.getUint32((at += 4) - 4, little));
  align();
  expect('TLEN');
  const lengths = types.map((_, i) => view.getUint16(at + 2 * i, little));
  at += 2 * types.length;
  align();
  expect('STRC');
  const count = view.getUint32(at, little);
  at += 4;
  const structs: Struct[] = [];
  for (let s = 0; s < count; s++) {
    const typeIndex = view.getUint16(at, little);
    const type = types[typeIndex]!;
    const nfields = view.getUint16(at + 2, little);
    at += 4;
    const fields = new Map<string, Field>();
    let offset = 0;
    for (let f = 0; f < nfields; f++) {
      const fieldTypeIndex = view.getUint16(at, little);
      const fieldType = types[fieldTypeIndex]!;
      const raw = names[view.getUint16(at + 2, little)]!;
      at += 4;
      const pointer = raw.startsWith('*') || raw.startsWith('(');
      let items = 1;
      for (const m of raw.matchAll(/\[(\d+)\]/g)) items *= Number(m[1]);
      const size = (pointer ? pointerSize : lengths[fieldTypeIndex]!) * items;
      const name = raw.replace(/^[*(]+/, '').replace(/[)[].*$/, '');
      fields.set(name, { type: fieldType, name, offset, size, pointer, count: items });
      offset += size;
    }
    structs.push({ type, size: lengths[typeIndex]!, fields });
  }
  return structs;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to && i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}
