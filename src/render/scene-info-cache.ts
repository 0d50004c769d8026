// What Blender said about a .blend (scene_info.py's raw answer), kept by the file's content, its
// path and the Blender that read it. Submitting the same file again, an artist's usual loop, then
// skips starting Blender (about 1.5 s) before the upload. Only the raw answer is kept: whether the
// files it names exist is checked again on every submission.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../process/find-executable.js';

const MAX_ENTRIES = 256;

/** Where the cache lives, or null when DROVER_SCENE_INFO_CACHE=0 turns it off. */
export function sceneInfoCacheDir(): string | null {
  if (process.env.DROVER_SCENE_INFO_CACHE === '0') return null;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'drover', 'scene-info');
}

/**
 * The entry's name, or null when the Blender to run cannot be found (then nothing is cached and
 * running it reports the problem). A new Blender build or a new scene_info.py makes a new key.
 */
export function sceneInfoKey(blendPath: string, blendSha256: string, blender: string, script: string): string | null {
  const exe = blender.includes('/') ? blender : findExecutable(blender);
  if (!exe) return null;
  let build: string;
  try {
    const s = statSync(exe);
    build = `${exe}:${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
  const scriptHash = createHash('sha256').update(readFileSync(script)).digest('hex');
  return createHash('sha256').update(JSON.stringify({ blendPath, blendSha256, build, scriptHash })).digest('hex');
}

export async function readCachedSceneInfo(dir: string, key: string): Promise<string | null> {
  try {
    return await readFile(join(dir, `${key}.json`), 'utf8');
  } catch {
    return null;
  }
}

/** Keeps an answer (written whole or not at all), and only the newest MAX_ENTRIES of them. */
export async function cacheSceneInfo(dir: string, key: string, raw: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${key}.${process.pid}.tmp`);
    await writeFile(tmp, raw, { mode: 0o600 });
    await rename(tmp, join(dir, `${key}.json`));
    const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => null))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.t - b.t);
    await Promise.all(aged.slice(0, aged.length - MAX_ENTRIES).map((e) => rm(join(dir, e.n), { force: true })));
  } catch {
    // A cache that cannot be written only costs the next submission a Blender start.
  }
}
