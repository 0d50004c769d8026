#!/usr/bin/env node
// Compiles the `drover` command once, so each process it starts skips TypeScript loading (about
// 0.5 s of CPU per process through tsx: the tests start hundreds of coordinators, agents and CLI
// runs). esbuild bundles src/cli/main.ts and the packages it uses into dist/drover/, one chunk per
// lazily imported part, and writes dist/drover/inputs.json: the sources it was made from (this
// script and the installed packages' lock included). bin/drover.js runs the bundle only while none
// of those is newer than it, and falls back to tsx otherwise, so a stale build is never run. Plain
// JavaScript: it runs before anything is compiled.
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

/**
 * Packages left to load from node_modules at run time: native addons (and what loads them), and
 * the few that find files beside their own sources through `__dirname` (pino's worker transports,
 * @fastify/swagger's package.json), which a bundle does not keep. Everything else is bundled.
 */
const LOADED_AT_RUN_TIME = new Set([
  'better-sqlite3', // native addon
  'sharp', // native addon (its platform package)
  'pg-native', // optional native driver of pg, absent
  'esbuild',
  'tsx',
  'pino', // worker transports by file path
  'thread-stream',
  '@fastify/swagger', // reads its package.json by __dirname
  '@aws-sdk/client-s3', // large and loaded only for s3:// blobs
  '@aws-sdk/s3-request-presigner',
]);

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * The node_modules packages go into the bundle too: loading them file by file cost each process
 * more than its own code (TypeBox's ESM build alone is some 900 files, Kysely's as many). A
 * coordinator started with 0.52 s of CPU instead of 0.88, `drover --cli-version` with 0.10 s
 * instead of 0.25 (3 runs each).
 */
const bundlePackages = {
  name: 'bundle-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || LOADED_AT_RUN_TIME.has(packageOf(args.path))) return { path: args.path, external: true };
      return undefined;
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
    // CommonJS packages in an ES module bundle call `require` (Node's built-ins, the packages left
    // outside): each chunk gets one of its own.
    banner: { js: "import { createRequire as createRequireOfBundle } from 'node:module'; const require = createRequireOfBundle(import.meta.url);" },
    chunkNames: 'chunk-[hash]',
    metafile: true,
    logLevel: 'warning',
    plugins: [ownImportMetaUrl, bundlePackages],
  });
  // The bundled packages are dated by npm's record of the install (rewritten by every npm install
  // or ci), the recipe by this script.
  const inputs = [...Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/')), 'node_modules/.package-lock.json', 'scripts/build-cli.mjs'];
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
