// Container images for tests, built offline: no registry is reachable from test machines. Each image
// is a root filesystem made from Debian packages (the apt mirror is reachable), imported with
// `podman import`. The slow part (debootstrap, about a minute) is cached as a tar outside the repo,
// keyed by a hash of the recipe, so a changed recipe rebuilds and an unchanged one is instant.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export type TestImageKind = 'busybox' | 'python';

/** Bump to force a rebuild when something outside the recipe functions changes the result. */
const RECIPE_VERSION = 1;
const BUILD_TIMEOUT_MS = 10 * 60_000;
const STALE_LOCK_MS = 15 * 60_000;
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));

const recipes: Record<TestImageKind, (rootfs: string) => Promise<void>> = {
  busybox: buildBusyboxRootfs,
  python: buildPythonRootfs,
};

/** The ref of a local test image (e.g. localhost/drover-test-busybox:1a2b3c4d5e6f), built if absent. */
export async function ensureTestImage(kind: TestImageKind): Promise<string> {
  const hash = createHash('sha256')
    .update(`${RECIPE_VERSION}\n${recipes[kind].toString()}\n${baseRootfs.toString()}`)
    .digest('hex')
    .slice(0, 12);
  const ref = `localhost/drover-test-${kind}:${hash}`;
  if (await imageExists(ref)) return ref;

  const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'drover-test-images');
  mkdirSync(cacheDir, { recursive: true });
  const tarPath = join(cacheDir, `${kind}-${hash}.tar`);
  if (!existsSync(tarPath)) await withLock(`${tarPath}.lock`, () => (existsSync(tarPath) ? Promise.resolve() : buildTar(kind, tarPath)));
  await podman(['import', '--change', 'CMD ["/bin/sh"]', tarPath, ref]);
  return ref;
}

async function buildTar(kind: TestImageKind, tarPath: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), `drover-image-${kind}-`));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    await recipes[kind](rootfs);
    const partial = `${tarPath}.partial-${process.pid}`;
    await exec('tar', ['--numeric-owner', '-C', rootfs, '-cf', partial, '.'], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 1 << 24 });
    renameSync(partial, tarPath); // atomic: other test processes never see half a tar
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A statically linked busybox with its applets, a nobody user, and a sticky /tmp. */
async function buildBusyboxRootfs(rootfs: string): Promise<void> {
  baseRootfs(rootfs);
  await withStaticBusybox(async (busybox) => {
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    const { stdout } = await exec(busybox, ['--list']);
    for (const applet of stdout.split('\n').map((l) => l.trim())) {
      if (applet !== '' && applet !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', applet));
    }
  });
}

/** Debian's minimal base with python3, from the mirror apt already uses. */
async function buildPythonRootfs(rootfs: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('building the python test image needs root (debootstrap)');
  const { codename, mirror } = aptMirror();
  await exec('debootstrap', ['--variant=minbase', '--include=python3', codename, rootfs, mirror], {
    timeout: BUILD_TIMEOUT_MS,
    maxBuffer: 1 << 26,
  });
  // Package caches and docs are a third of the size and no use to a test.
  for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale']) {
    const path = join(rootfs, dir);
    if (!existsSync(path)) continue;
    for (const entry of readdirSync(path)) if (entry !== 'partial' && entry !== 'lock') rmSync(join(path, entry), { recursive: true, force: true });
  }
}

function baseRootfs(rootfs: string): void {
  for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'local', 'tmp']) mkdirSync(join(rootfs, dir), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** /bin/busybox when busybox-static is installed, else the package fetched from the apt mirror. */
async function withStaticBusybox(use: (path: string) => Promise<void>): Promise<void> {
  const installed = await exec('dpkg-query', ['-W', '-f=${Status}', 'busybox-static']).then(
    ({ stdout }) => stdout.includes('install ok installed'),
    () => false,
  );
  if (installed && existsSync('/bin/busybox')) return use('/bin/busybox');
  const dir = mkdtempSync(join(tmpdir(), 'drover-busybox-'));
  try {
    await exec('apt-get', ['download', 'busybox-static'], { cwd: dir, timeout: 120_000 });
    const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static produced no package');
    await exec('dpkg-deb', ['-x', join(dir, deb), join(dir, 'x')]);
    await use(join(dir, 'x', 'bin', 'busybox'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Debian release and mirror this machine's apt uses (deb822 .sources or the one-line format). */
function aptMirror(): { codename: string; mirror: string } {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(.+)$/m.exec(osRelease)?.[1]?.replace(/"/g, '') ?? 'bookworm';
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.sources') || f.endsWith('.list')) files.push(join(dir, f));
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(codename)) return { codename, mirror: uri };
    }
    const line = new RegExp(`^deb\\s+(?:\\[[^\\]]*\\]\\s+)?(\\S+)\\s+${codename}\\s`, 'm').exec(text);
    if (line?.[1]) return { codename, mirror: line[1] };
  }
  throw new Error(`no apt source for ${codename} found: cannot debootstrap the python test image`);
}

async function withLock(lockDir: string, fn: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      // Someone else builds; take over only a lock left by a crashed build.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

async function imageExists(ref: string): Promise<boolean> {
  try {
    await podman(['image', 'exists', ref]);
    return true;
  } catch {
    return false;
  }
}

function podman(args: string[]): Promise<{ stdout: string }> {
  const global = RUNC ? ['--runtime', RUNC] : [];
  return exec('podman', [...global, ...args], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 1 << 24 });
}
