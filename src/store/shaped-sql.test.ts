import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeholderRows, placeholders } from './shaped-sql.js';

describe('shaped SQL', () => {
  it('writes placeholder lists and rows of the asked sizes', () => {
    assert.equal(placeholders(3), '?, ?, ?');
    assert.equal(placeholderRows(2, 3), '(?, ?, ?), (?, ?, ?)');
  });
});
