// Runs test files with node's test runner in the order given, N at a time:
//   node --import tsx scripts/run-tests.mjs --concurrency N --timings FILE TEST_FILE…
// `node --test` sorts its files by name, so it cannot start the longest first (scripts/test.sh
// orders them); its run() API keeps the order. The spec reporter prints to stdout, and
// file-timings-reporter.mjs writes the per-file profile to FILE. Test files' processes get this
// process's --import flags (tsx, the usage recorder), as with `node --test`. Exits 1 when a test
// failed, as `node --test` does.
import { createWriteStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { parseArgs } from 'node:util';
import fileTimings from './file-timings-reporter.mjs';

const { values, positionals: files } = parseArgs({
  options: { concurrency: { type: 'string', default: '4' }, timings: { type: 'string' } },
  allowPositionals: true,
});

// Each event goes to both reporters.
const toScreen = new PassThrough({ objectMode: true });
toScreen.compose(spec).pipe(process.stdout);
const toTimings = new PassThrough({ objectMode: true });
const timingsWritten = values.timings ? finished(toTimings.compose(fileTimings).pipe(createWriteStream(values.timings))) : (toTimings.resume(), Promise.resolve());

for await (const event of run({ files, concurrency: Number(values.concurrency) })) {
  if (event.type === 'test:fail' && !event.data.todo) process.exitCode = 1;
  toScreen.write(event);
  toTimings.write(event);
}
toScreen.end();
toTimings.end();
await timingsWritten;
