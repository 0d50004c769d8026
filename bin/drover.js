#!/usr/bin/env -S node --max-semi-space-size=32
// Entry point of the `drover` command. It runs the compiled bundle (dist/drover/, made by
// scripts/build-cli.mjs, which `npm start` and the tests run first) when that is fresh, and the
// TypeScript sources through tsx otherwise: a stale build never runs, and a checkout without one
// still works. The bundle spares each process about 0.5 s of CPU loading TypeScript.
// A 32 MB young generation (V8's default is 16): a coordinator answering a thousand agents makes
// mostly short-lived garbage, and with the default its scavenges came twice as often
// (the scale bench, 7 alternated pairs: coordinator CPU 2.6–3.7 s against 3.2–4.4 s, efficiency
// +1.2 points on average, better in 6 of 7; 64 MB gained nothing more and took 30 MB more memory).
// `npm start` and the benches run this file as a command, so the flag is set here only.
import { fileURLToPath } from 'node:url';
import { buildIsFresh, BUILD_DIR, ENTRY_OUT } from './build-freshness.js';

const repo = fileURLToPath(new URL('../', import.meta.url));
let main;
if (process.env.DROVER_NO_BUILD !== '1' && buildIsFresh(repo)) {
  ({ main } = await import(new URL(`../${BUILD_DIR}/${ENTRY_OUT}`, import.meta.url).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
