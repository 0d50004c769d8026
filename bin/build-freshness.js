// Whether the compiled `drover` (dist/drover/, made by scripts/build-cli.mjs) still matches its
// sources: it was built from every file it lists, and none of them has changed since (by mtime) or
// gone. Shared by bin/drover.js (which runs the build only when fresh) and the build script.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BUILD_DIR = join('dist', 'drover');
export const ENTRY_OUT = 'main.js';
export const INPUTS_FILE = 'inputs.json';

/** `repo` is the checkout's root folder. Any doubt (no build, unreadable list) means not fresh. */
export function buildIsFresh(repo) {
  try {
    const { startedAt, inputs } = JSON.parse(readFileSync(join(repo, BUILD_DIR, INPUTS_FILE), 'utf8'));
    statSync(join(repo, BUILD_DIR, ENTRY_OUT));
    if (!Array.isArray(inputs) || inputs.length === 0 || typeof startedAt !== 'number') return false;
    // Against the time the build began reading: an edit made while it ran counts as newer.
    return inputs.every((input) => statSync(join(repo, input)).mtimeMs < startedAt);
  } catch {
    return false;
  }
}
