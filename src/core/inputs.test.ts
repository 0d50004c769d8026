import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileNameProblem, orderInputs, relativePathProblem, sharedNameClashes, splitGlobList } from './inputs.js';

test('input globs are split on commas, but not inside braces', () => {
  assert.deepEqual(splitGlobList('a/*.txt, b/*.txt'), ['a/*.txt', 'b/*.txt']);
  assert.deepEqual(splitGlobList('data/{x,y}/*.txt,z.txt'), ['data/{x,y}/*.txt', 'z.txt']);
  assert.deepEqual(splitGlobList(' , '), []);
});

test('inputs are de-duplicated and sorted naturally: job_2 before job_10', () => {
  assert.deepEqual(orderInputs(['/d/job_10.txt', '/d/job_2.txt', '/d/job_1.txt', '/d/job_2.txt']), ['/d/job_1.txt', '/d/job_2.txt', '/d/job_10.txt']);
});

test('file names with separators, control characters or dot names are refused', () => {
  assert.equal(fileNameProblem('ok.txt'), null);
  assert.match(fileNameProblem('a/b')!, /path separator/);
  assert.match(fileNameProblem('bad\nname')!, /control characters/);
  assert.match(fileNameProblem('..')!, /not allowed/);
  assert.match(fileNameProblem('')!, /empty/);
});

test('result paths must stay inside the results folder', () => {
  assert.equal(relativePathProblem('frames/frame_00001.png'), null);
  assert.match(relativePathProblem('../etc/passwd')!, /\.\./);
  assert.match(relativePathProblem('/abs')!, /relative/);
  assert.match(relativePathProblem('a//b')!, /empty/);
  assert.match(relativePathProblem('a\\b')!, /relative/);
});

test('an input named like the script or a constants file is refused before anything is stored', () => {
  const script = { name: 'run.py' };
  assert.equal(sharedNameClashes(script, [{ name: 'k.txt' }], [{ name: 'a.txt' }, { name: 'a.txt' }]), null);
  assert.match(sharedNameClashes(script, [{ name: 'run.py' }], [])!, /both the script and a constants file/);
  assert.match(sharedNameClashes(script, [], [{ name: 'run.py' }])!, /same name as the script/);
});
