import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTerminalJob } from '../../core/states.js';
import { HIDDEN_STATUSES, statusAsSeen } from './jobs.js';

describe('job statuses as seen', () => {
  it('reads a job half there (inserting, deleting) as one not ended, and every other status as it is', () => {
    for (const hidden of HIDDEN_STATUSES) assert.equal(isTerminalJob(statusAsSeen(hidden)), false);
    for (const status of ['created', 'queued', 'running', 'done', 'error', 'canceled'] as const) assert.equal(statusAsSeen(status), status);
  });
});
