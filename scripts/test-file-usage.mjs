// Loaded into every test file's process by scripts/test.sh (node's test runner passes its own
// --import flags to the processes it starts per file). When a test file's process exits it writes
// what the file cost to DROVER_TEST_USAGE_DIR: its wall time from process start, when it started and
// ended, and the CPU of the process and of every process it started and waited for (coordinators,
// agents, CLI runs, Blender under an agent, Chromium): /proc/self/stat's utime + stime + cutime +
// cstime. The reporter (scripts/file-timings-reporter.mjs) lists them. Plain JavaScript: it loads
// before tsx. Processes a file leaves to a daemon (podman's containers, a PostgreSQL server started
// once) are not counted.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.DROVER_TEST_USAGE_DIR;
const file = process.argv[1];
// Only the processes of test files (the runner marks them with NODE_TEST_CONTEXT), not the runner.
if (dir && file && process.env.NODE_TEST_CONTEXT && /\.test\.[cm]?[jt]s$/.test(file)) {
  const startedAt = Date.now() - performance.now();
  process.on('exit', () => {
    try {
      // Fields after the command name (in parentheses, which may hold spaces): utime is the 14th
      // field of the line, so the 12th after ")"; clock ticks, 100 a second on Linux.
      const stat = readFileSync('/proc/self/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = (i) => Number(fields[i - 3]);
      const endedAt = Date.now();
      const usage = {
        file,
        startedAt,
        endedAt,
        wallS: (endedAt - startedAt) / 1000,
        selfCpuS: (ticks(14) + ticks(15)) / 100,
        childrenCpuS: (ticks(16) + ticks(17)) / 100,
      };
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${file.replace(/[^A-Za-z0-9.-]+/g, '_')}.json`), JSON.stringify(usage) + '\n');
    } catch {
      // A measurement never fails a test.
    }
  });
}
