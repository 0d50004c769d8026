#!/usr/bin/env -S node --max-semi-space-size=32
// Entry point of the `drover` command: registers tsx so the TypeScript sources run as they are.
// A 32 MB young generation (V8's default is 16): a coordinator answering a thousand agents makes
// mostly short-lived garbage, and with the default its scavenges came twice as often
// (the scale bench, 7 alternated pairs: coordinator CPU 2.6–3.7 s against 3.2–4.4 s, efficiency
// +1.2 points on average, better in 6 of 7; 64 MB gained nothing more and took 30 MB more memory).
// `npm start` and the benches run this file as a command, so the flag is set here only.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
