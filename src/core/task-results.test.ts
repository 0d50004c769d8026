import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingRequiredResults, producedNothing } from './task-results.js';

test('a success with no result file and no output is worth a warning', () => {
  assert.equal(producedNothing({ exitCode: 0, resultFiles: 0, stdoutBytes: 0 }), true);
  assert.equal(producedNothing({ exitCode: 0, resultFiles: 0, stdoutBytes: 12 }), false);
  assert.equal(producedNothing({ exitCode: 0, resultFiles: 1, stdoutBytes: 0 }), false);
  assert.equal(producedNothing({ exitCode: 1, resultFiles: 0, stdoutBytes: 0 }), false, 'a failure is already visible');
});

test('a job requiring results fails a success that wrote no result file, whatever it printed', () => {
  assert.equal(missingRequiredResults({ exitCode: 0, resultFiles: 0, stdoutBytes: 12 }, true), true);
  assert.equal(missingRequiredResults({ exitCode: 0, resultFiles: 2, stdoutBytes: 0 }, true), false);
  assert.equal(missingRequiredResults({ exitCode: 0, resultFiles: 0, stdoutBytes: 0 }, false), false);
  assert.equal(missingRequiredResults({ exitCode: 3, resultFiles: 0, stdoutBytes: 0 }, true), false, 'it failed already');
});
