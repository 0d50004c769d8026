import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visibleControls } from './terminal-text.js';

test('escape and control sequences are shown, not obeyed', () => {
  assert.equal(visibleControls('\x1b]0;owned\x07title'), '^[]0;owned^Gtitle');
  assert.equal(visibleControls('a\x1b[2Jb'), 'a^[[2Jb');
  assert.equal(visibleControls('\u009b31mred'), '<U+009B>31mred');
  assert.equal(visibleControls('x\x7f\x00'), 'x^?^@');
  assert.equal(visibleControls('progress 10%\rprogress 20%'), 'progress 10%^Mprogress 20%');
});

test('ordinary text is left as it is', () => {
  const text = 'line one\n\tindented\r\nünïcödé ✓ 日本\n';
  assert.equal(visibleControls(text), text);
});
