// A node:test reporter that lists test files by how long they took, longest first: the profile of
// the suite (scripts/test.sh writes it to .test-output/file-timings.txt). Per file: its wall time
// (its process, start-up and imports included), the CPU of its process and of every process it
// started (scripts/test-file-usage.mjs records both, in DROVER_TEST_USAGE_DIR), when it started and
// ended in the run (which files finish last), and the sum of its top-level tests' durations (they
// run one after another within a file). Without the usage records, the tests' sum alone.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** What test-file-usage.mjs wrote for each file, by path. */
async function readUsage(dir) {
  const usage = new Map();
  if (!dir) return usage;
  for (const name of await readdir(dir).catch(() => [])) {
    if (!name.endsWith('.json')) continue;
    const u = JSON.parse(await readFile(join(dir, name), 'utf8'));
    usage.set(u.file, u);
  }
  return usage;
}

const seconds = (ms) => (ms / 1000).toFixed(1).padStart(7);

export default async function* fileTimings(source) {
  const perFile = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (!file || nesting !== 0) continue;
    const entry = perFile.get(file) ?? { ms: 0, tests: 0, failed: 0 };
    entry.ms += details?.duration_ms ?? 0;
    entry.tests += 1;
    if (event.type === 'test:fail') entry.failed += 1;
    perFile.set(file, entry);
  }
  const usage = await readUsage(process.env.DROVER_TEST_USAGE_DIR);
  const runStart = Math.min(...[...usage.values()].map((u) => u.startedAt));
  const wallMs = (file, e) => (usage.has(file) ? usage.get(file).wallS * 1000 : e.ms);
  const rows = [...perFile].sort((a, b) => wallMs(...b) - wallMs(...a));
  const total = { wall: 0, tests: 0, cpu: 0 };
  yield `   wall      CPU  started    ended    tests  top-level tests  file\n`;
  for (const [file, e] of rows) {
    const u = usage.get(file);
    const cpuMs = u ? (u.selfCpuS + u.childrenCpuS) * 1000 : NaN;
    total.wall += wallMs(file, e);
    total.tests += e.ms;
    if (u) total.cpu += cpuMs;
    const timing = u ? `${seconds(u.wallS * 1000)}  ${seconds(cpuMs)}  ${seconds(u.startedAt - runStart)}  ${seconds(u.endedAt - runStart)}` : `${'–'.padStart(7)}  ${'–'.padStart(7)}  ${'–'.padStart(7)}  ${'–'.padStart(7)}`;
    yield `${timing}  ${seconds(e.ms)}  ${String(e.tests).padStart(15)}  ${relative(process.cwd(), file)}${e.failed ? `  (${e.failed} failed)` : ''}\n`;
  }
  yield `${seconds(total.wall)}  ${seconds(total.cpu)}                    ${seconds(total.tests)}  total of ${rows.length} files (seconds; CPU: the file's process and the processes it started)\n`;
}
