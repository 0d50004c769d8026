import { SimAgent, startCoordinator, scriptJobSpec, request, upload } from '/work/main/bench/lib.js';
const c = await startCoordinator();
const a = new SimAgent(c.url, 'p', 64); await a.register(c.server.joinToken);
await upload(c, a.token, Buffer.alloc(0));
const spec = await scriptJobSpec(c, c.admin, 2000, 'probe');
let t = performance.now();
await request(c.url, c.admin, 'POST', '/jobs', spec);
console.log('submit', performance.now() - t);
for (let i = 0; i < 3; i++) {
  t = performance.now();
  const tasks = await a.lease(64, 64, 0);
  const tl = performance.now() - t; t = performance.now();
  await a.complete(tasks);
  console.log('lease', tasks.length, tl.toFixed(1), 'complete', (performance.now() - t).toFixed(1));
}
t = performance.now();
const tasks = await a.lease(1, 1, 0);
console.log('lease1', (performance.now() - t).toFixed(1));
t = performance.now(); await a.complete(tasks); console.log('complete1', (performance.now() - t).toFixed(1));
await c.stop(); process.exit(0);
