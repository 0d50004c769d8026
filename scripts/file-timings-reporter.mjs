// A node:test reporter that lists test files by how long their tests took, longest first: the
// profile of the suite (scripts/test.sh writes it to .test-output/file-timings.txt). A file's time
// is the sum of its top-level tests' durations (they run one after another within a file); the
// process start and imports before them are not in it.
import { relative } from 'node:path';

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
  const rows = [...perFile].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, e]) => sum + e.ms, 0);
  yield `seconds  top-level tests  file\n`;
  for (const [file, e] of rows) yield `${(e.ms / 1000).toFixed(1).padStart(7)}  ${String(e.tests).padStart(15)}  ${relative(process.cwd(), file)}${e.failed ? `  (${e.failed} failed)` : ''}\n`;
  yield `${(total / 1000).toFixed(1).padStart(7)}  total of ${rows.length} files\n`;
}
