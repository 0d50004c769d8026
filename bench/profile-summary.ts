// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by file, top N.
// Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [N] [--inclusive]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(process.argv[3]?.startsWith("--") ? 25 : (process.argv[3] ?? 25));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
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
