// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by file, top N.
// Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [N] [--inclusive] [--busiest=SECONDS]
// --busiest keeps only the samples of the busiest SECONDS of the run (the bench, not start-up).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(process.argv[3]?.startsWith("--") ? 25 : (process.argv[3] ?? 25));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const idleId = prof.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
const busiest = Number(process.argv.find((a) => a.startsWith('--busiest='))?.slice('--busiest='.length) ?? 0) * 1e6;
const keep = busiestWindow(busiest);
const self = new Map<number, number>();
prof.samples.forEach((id, i) => keep(i) && self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));

/** Which samples to count: all, or those in the window of `us` microseconds holding the most non-idle time. */
function busiestWindow(us: number): (i: number) => boolean {
  if (!us) return () => true;
  const at: number[] = [];
  prof.timeDeltas.reduce((t, d, i) => (at[i] = t + d), 0);
  let best = { from: 0, to: 0, busy: -1 };
  let busy = 0;
  for (let from = 0, to = 0; to < at.length; to++) {
    if (prof.samples[to] !== idleId) busy += prof.timeDeltas[to] ?? 0;
    while (at[to]! - at[from]! > us) if (prof.samples[from++] !== idleId) busy -= prof.timeDeltas[from - 1] ?? 0;
    if (busy > best.busy) best = { from, to, busy };
  }
  console.log(`busiest ${us / 1e6} s: ${(best.busy / 1000).toFixed(0)} ms busy`);
  return (i) => i >= best.from && i <= best.to;
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url: string) => url.replace(/^file:\/\/\/work\/main\//, '').replace(/.*node_modules\//, 'nm/');
const fn = new Map<string, number>();
const file = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const key = `${n.callFrame.functionName || '(anon)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = short(n.callFrame.url) || n.callFrame.functionName;
  const pkg = f.startsWith('nm/') ? f.split('/').slice(0, f.split('/')[1]!.startsWith('@') ? 3 : 2).join('/') : f;
  file.set(pkg, (file.get(pkg) ?? 0) + us);
}
const show = (m: Map<string, number>) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, us]) => console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`));
console.log(`total ${(total / 1000).toFixed(0)} ms\n-- by package/file`);
show(file);
console.log('-- by function');
show(fn);
if (process.argv.includes('--inclusive')) {
  // Inclusive time: each sample counts once for every function on its stack (what a call costs with its callees).
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    if (!keep(i)) return;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)!;
      if (!n.callFrame.url) continue;
      const key = `${n.callFrame.functionName || '(anon)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
    }
  });
  console.log('-- inclusive, by function');
  show(incl);
}
