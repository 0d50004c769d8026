// How fast the web app hashes a file before uploading it, in Chromium: crypto.subtle (pages on
// https or localhost, files up to 256 MiB) against the chunked path (web/src/sha256.ts
// sha256InChunks, hash-wasm: plain-http pages and bigger files). Prints only; not part of `npm run
// bench` (it measures the browser, not the farm).
//
//   node --import tsx bench/web-hashing.ts [MiB]     (default 64; median of 3 rounds)
import { bundleForBrowser, launchChromium } from '../test/helpers/browser.js';

const mib = Number(process.argv[2] ?? 64);

const bundle = await bundleForBrowser(`import { sha256InChunks } from './web/src/sha256.ts'; window.sha256InChunks = sha256InChunks;`);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  // localhost: a secure context, so crypto.subtle is there to compare with.
  await page.route('http://localhost/bench', (route) => route.fulfill({ body: '<title>hashing</title>', contentType: 'text/html' }));
  await page.goto('http://localhost/bench');
  await page.addScriptTag({ content: bundle });
  const times = await page.evaluate(async (mib) => {
    const chunked = (window as unknown as { sha256InChunks: (b: Blob) => Promise<string> }).sha256InChunks;
    const data = new Uint8Array(mib * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 255;
    const blob = new Blob([data]);
    const rounds: { subtle: number; chunked: number }[] = [];
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
      const subtle = performance.now() - t;
      t = performance.now();
      await chunked(blob);
      rounds.push({ subtle, chunked: performance.now() - t });
    }
    return rounds;
  }, mib);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const path of ['subtle', 'chunked'] as const) {
    const ms = median(times.map((t) => t[path]));
    console.log(`${path === 'subtle' ? 'crypto.subtle          ' : 'chunked (hash-wasm)    '} ${mib} MiB in ${ms.toFixed(0)} ms: ${((mib / ms) * 1000).toFixed(0)} MiB/s`);
  }
} finally {
  await browser.close();
}
