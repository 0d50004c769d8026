// Chromium for the web app's end-to-end tests: the build of web/, the browser, signing in, and the
// visual checks every page gets (nothing wider than the screen, no text or image cut).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = join(ROOT, '.test-output', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

/**
 * The coordinator serves web/dist: build it from the current sources first (a second or two).
 * Test files run at the same time and each builds, so the build is made in a folder of its own and
 * put in place file by file with renames, index.html last: web/dist is never empty or half written
 * under another test's coordinator or page (a plain `vite build` empties it first, and a page
 * loading then lost its lazily loaded chunks). Builds are deterministic, so builds of the same
 * sources put the same files in place. Skipped while web/dist is newer than every source
 * (scripts/test.sh builds it once before the tests).
 */
export function buildWebApp(): void {
  if (process.env.DROVER_E2E_SKIP_WEB_BUILD || webBuildIsFresh()) return;
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'drover-web-build-'));
  try {
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', 'web', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, `vite build failed:\n${result.stdout}\n${result.stderr}`);
    installBuild(out, join(ROOT, 'web', 'dist'));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The files under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Moves the files of a finished build into `dist`, each by an atomic rename, index.html last. */
function installBuild(build: string, dist: string): void {
  const files = filesUnder(build);
  for (const file of [...files.filter((f) => f !== 'index.html'), 'index.html']) {
    const target = join(dist, file);
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(build, file), target);
  }
  // Files of older builds (other hashes) go once the new index.html no longer names them.
  const kept = new Set(files);
  for (const file of filesUnder(dist)) if (!kept.has(file)) rmSync(join(dist, file), { force: true });
  utimesSync(dist, new Date(), new Date()); // as scripts/setup.sh does: the build is newer than its sources
}

/**
 * The rule of scripts/setup.sh: web/dist is newer than web/index.html, web/vite.config.*, all of
 * web/src and src/core (the pure rules the app bundles).
 */
function webBuildIsFresh(): boolean {
  const web = join(ROOT, 'web');
  const built = statSync(join(web, 'dist'), { throwIfNoEntry: false });
  if (!built) return false;
  const sources = [join(web, 'index.html'), ...readdirSync(web).filter((f) => f.startsWith('vite.config.')).map((f) => join(web, f))];
  for (const dir of [join(web, 'src'), join(ROOT, 'src', 'core')]) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) sources.push(join(entry.parentPath, entry.name));
  }
  return sources.every((path) => (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) <= built.mtimeMs);
}

/**
 * Web modules bundled as they are for a plain page (one IIFE, for page.addScriptTag): `entry` is a
 * module's text whose imports are relative to the repository root and which puts what it needs on
 * window. For tests and benchmarks that run web/src code without the app; esbuild is loaded only
 * by them.
 */
export async function bundleForBrowser(entry: string): Promise<string> {
  const { build } = await import('esbuild');
  const bundle = await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    write: false,
    logLevel: 'silent',
  });
  return bundle.outputFiles[0]!.text;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('jobs-page').waitFor();
}

/** Whether the element is wholly inside the viewport (a message the person can see). */
export async function inViewport(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
  }, selector);
}

/**
 * What is visibly wrong with the page's layout: the page wider than the screen, an element sticking
 * out of it (outside a scrolling box), text cut by its box without an ellipsis, an image cut by a
 * box that hides overflow or drawn in another shape than its own. An empty list is a clean page.
 */
export async function layoutProblems(page: Page): Promise<string[]> {
  // The test runner's transform names functions with a __name helper the page does not have.
  await page.evaluate('globalThis.__name ??= (f) => f');
  return page.evaluate(() => {
    const problems: string[] = [];
    const name = (el: Element) => {
      const id = el.getAttribute('data-testid');
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      return `${el.tagName.toLowerCase()}${id ? `[data-testid=${id}]` : ''}${cls} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    };
    const width = window.innerWidth;
    if (document.documentElement.scrollWidth > width + 1) problems.push(`the page is ${document.documentElement.scrollWidth}px wide on a ${width}px screen`);
    const scrollsSideways = (el: Element): boolean => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll') return true;
      }
      return false;
    };
    const hidden = (el: Element) => {
      const s = getComputedStyle(el);
      return s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0 || (el as HTMLElement).offsetParent === null && s.position !== 'fixed';
    };
    for (const el of document.body.querySelectorAll('*')) {
      if (hidden(el) || el.closest('.visually-hidden, .sr-only, video, svg, option, select')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > width + 1 && !scrollsSideways(el)) problems.push(`${name(el)} sticks out of the screen (right edge ${Math.round(r.right)}px)`);
      const s = getComputedStyle(el);
      const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim());
      const clips = s.overflowX === 'hidden' || s.overflowX === 'clip';
      if (hasText && clips && s.textOverflow !== 'ellipsis' && el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'PRE') {
        problems.push(`${name(el)} cuts its text (${el.scrollWidth}px in ${el.clientWidth}px)`);
      }
    }
    for (const img of document.querySelectorAll('img')) {
      if (hidden(img) || !img.complete || img.naturalWidth === 0) continue;
      const r = img.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const fit = getComputedStyle(img).objectFit;
      if (fit !== 'contain' && fit !== 'scale-down') {
        const drawn = r.width / r.height;
        const own = img.naturalWidth / img.naturalHeight;
        if (Math.abs(drawn - own) / own > 0.03) problems.push(`${name(img)} is drawn ${Math.round(r.width)}×${Math.round(r.height)}, not in its own shape ${img.naturalWidth}×${img.naturalHeight}`);
      }
      for (let p = img.parentElement; p && p !== document.body; p = p.parentElement) {
        const ps = getComputedStyle(p);
        if (ps.overflowX === 'visible' && ps.overflowY === 'visible') continue;
        if (ps.overflowX === 'auto' || ps.overflowX === 'scroll' || ps.overflowY === 'auto' || ps.overflowY === 'scroll') break; // scrolls: nothing is lost
        const b = p.getBoundingClientRect();
        if (r.left < b.left - 1 || r.top < b.top - 1 || r.right > b.right + 1 || r.bottom > b.bottom + 1) {
          problems.push(`${name(img)} (${Math.round(r.width)}×${Math.round(r.height)}) is cut by ${name(p)} (${Math.round(b.width)}×${Math.round(b.height)})`);
          break;
        }
      }
    }
    return problems;
  });
}
