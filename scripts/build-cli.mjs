#!/usr/bin/env node
// Compiles the `drover` command once, so each process it starts skips TypeScript loading (about
// 0.5 s of CPU per process through tsx: the tests start hundreds of coordinators, agents and CLI
// runs). esbuild bundles src/cli/main.ts into dist/drover/, one chunk per lazily imported part, and
// writes dist/drover/inputs.json: the sources it was made from. bin/drover.js runs the bundle only
// while none of those sources is newer than it, and falls back to tsx otherwise, so a stale build is
// never run. Plain JavaScript: it runs before anything is compiled.
//
//   node scripts/build-cli.mjs          build when missing or stale (prints nothing when fresh)
//   node scripts/build-cli.mjs --force  build anyway
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIsFresh, BUILD_DIR, ENTRY_OUT, INPUTS_FILE } from '../bin/build-freshness.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));

/**
 * Sources find files beside them through `new URL('…', import.meta.url)` (the web build, Blender
 * scripts, bin/drover.js). In a bundle every module shares the bundle's URL, so each module's own
 * `import.meta.url` becomes its source file's URL, written relative to the bundle so it still
 * holds wherever the checkout lives.
 */
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /[/\\]src[/\\].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const fromBundle = relative(join(REPO, BUILD_DIR), args.path).split('\\').join('/');
      return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

async function build() {
  const esbuild = await import('esbuild');
  const staging = join(REPO, `${BUILD_DIR}.tmp-${process.pid}`);
  const startedAt = Date.now();
  const result = await esbuild.build({
    absWorkingDir: REPO,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external', // node_modules load as they are (native addons, their own files)
    chunkNames: 'chunk-[hash]',
    metafile: true,
    logLevel: 'warning',
    plugins: [ownImportMetaUrl],
  });
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/'));
  await writeFile(join(staging, 'inputs.json'), JSON.stringify({ startedAt, inputs }) + '\n');
  // Swapped in whole: a process starting meanwhile sees the old build or the new one, never half.
  const target = join(REPO, BUILD_DIR);
  const old = `${target}.old-${process.pid}`;
  await mkdir(dirname(target), { recursive: true });
  await rename(target, old).catch(() => {});
  await rename(staging, target);
  await rm(old, { recursive: true, force: true });
}

const force = process.argv.includes('--force');
if (force || !buildIsFresh(REPO)) {
  await build();
  console.log(`drover: compiled the CLI into ${join(BUILD_DIR, ENTRY_OUT)} (${join(BUILD_DIR, INPUTS_FILE)} lists its sources)`);
}
