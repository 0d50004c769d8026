#!/usr/bin/env node
// Keeps better-sqlite3's compiled addon where its installer looks before anything else, so the next
// `npm ci` on this machine unpacks it instead of compiling SQLite again.
//
// better-sqlite3 installs with `prebuild-install || node-gyp rebuild`: its prebuilt binaries are
// downloaded from GitHub, out of reach here, so every `npm ci` compiled the SQLite amalgamation
// with node-gyp: about 45 s of CPU, most of a minute's install on this 2-core machine (and of every
// clean-clone CI run). prebuild-install first looks in npm's cache (~/.npm/_prebuilds/), under a
// name made from the download URL it would have used; this writes the addon just built there, as
// the tarball it would have downloaded. It is only a cache: prebuild-install loads the binary it
// unpacks (require) before accepting it, and falls back to compiling when that fails.
// CommonJS, run by scripts/setup.sh after npm ci; it never fails the set-up.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, renameSync } = require('node:fs');
const { dirname, join } = require('node:path');

try {
  const pkgDir = dirname(require.resolve('better-sqlite3/package.json'));
  const addon = join(pkgDir, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(addon)) process.exit(0);
  const fromPkg = (id) => require(require.resolve(id, { paths: [pkgDir] }));
  const util = fromPkg('prebuild-install/util');
  const rc = fromPkg('prebuild-install/rc')(fromPkg(join(pkgDir, 'package.json')));
  const cached = util.cachedPrebuild(util.getDownloadUrl({ ...rc, pkg: fromPkg(join(pkgDir, 'package.json')) }));
  if (existsSync(cached)) process.exit(0);
  mkdirSync(dirname(cached), { recursive: true });
  const partial = `${cached}.${process.pid}.tmp`;
  execFileSync('tar', ['-czf', partial, '-C', pkgDir, 'build/Release/better_sqlite3.node']);
  renameSync(partial, cached);
  console.log(`setup: kept the compiled better-sqlite3 addon for the next npm ci (${cached})`);
} catch (err) {
  console.log(`setup: could not keep the compiled better-sqlite3 addon (${err instanceof Error ? err.message : String(err)}); the next npm ci compiles it again`);
}
