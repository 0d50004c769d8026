import { SimAgent, startCoordinator, scriptJobSpec, request, upload, procSample } from '/work/main/bench/lib.js';
const c = await startCoordinator();
const a = new SimAgent(c.url, 'p', 64); await a.register(c.server.joinToken); a.batchEndpoint = true;
await upload(c, a.token, Buffer.alloc(0));
const spec = await scriptJobSpec(c, c.admin, 20000, 'probe');
await request(c.url, c.admin, 'POST', '/jobs', spec);
let tasks = await a.lease(64, 64, 0);
const s0 = procSample(c.pid); const t0 = performance.now(); const me0 = process.cpuUsage();
for (let i = 0; i < 40; i++) {
  const t = performance.now();
  tasks = await a.complete(tasks, { freeCores: 64, maxTasks: 64 });
  if (i % 8 === 0) console.log('batch', tasks.length, (performance.now() - t).toFixed(1));
}
const s1 = procSample(c.pid); const me = process.cpuUsage(me0);
console.log('wall', (performance.now() - t0).toFixed(0), 'server cpu s', (s1.cpuSeconds - s0.cpuSeconds).toFixed(2), 'client cpu s', ((me.user + me.system) / 1e6).toFixed(2));
await c.stop(); process.exit(0);
