import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Completion, filesProblem } from './completion.js';

const EMPTY = { sha256: 'e'.repeat(64), size: 0 };
const completion = (paths: string[]): Completion => ({ attempt: 1, exitCode: 0, files: paths.map((path) => ({ path, sha256: 'a'.repeat(64), size: 1 })), stdout: EMPTY, stderr: EMPTY });

test('a completion listing no files, or sound distinct paths, has no file problem', () => {
  assert.equal(filesProblem(completion([])), null);
  assert.equal(filesProblem(completion(['out/frame_0001.png', 'log.txt'])), null);
});

test('a listed path leading out of the task, or listed twice, is refused', () => {
  assert.equal(filesProblem(completion(['out/../../etc/passwd'])), 'path "out/../../etc/passwd" has an empty, . or .. part');
  assert.equal(filesProblem(completion(['/abs'])), 'path "/abs" must be relative and use /');
  assert.equal(filesProblem(completion(['a.txt', 'a.txt'])), 'result path "a.txt" is listed twice');
});

test('a listed file named as the task\'s own stdout.txt or stderr.txt is listed twice', () => {
  assert.equal(filesProblem(completion(['stdout.txt'])), 'result path "stdout.txt" is listed twice');
  assert.equal(filesProblem(completion(['x', 'stderr.txt'])), 'result path "stderr.txt" is listed twice');
});
