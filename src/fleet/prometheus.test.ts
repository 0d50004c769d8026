import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsFormatError, parseMetrics, parseSampleLine } from './prometheus.js';

test('samples with and without labels; comments and blank lines are skipped', () => {
  const text = [
    '# HELP drover_tasks Tasks of started jobs.',
    '# TYPE drover_tasks gauge',
    'drover_tasks{instance_type="s",status="queued"} 12',
    'drover_tasks{instance_type="s",status="running"} 3',
    '',
    'up 1',
    'drover_task_attempt_duration_seconds_bucket{status="done",le="+Inf"} 7',
  ].join('\n');
  assert.deepEqual(parseMetrics(text), [
    { name: 'drover_tasks', labels: { instance_type: 's', status: 'queued' }, value: 12 },
    { name: 'drover_tasks', labels: { instance_type: 's', status: 'running' }, value: 3 },
    { name: 'up', labels: {}, value: 1 },
    { name: 'drover_task_attempt_duration_seconds_bucket', labels: { status: 'done', le: '+Inf' }, value: 7 },
  ]);
});

test('label values keep escaped quotes, backslashes, newlines, commas and braces', () => {
  const s = parseSampleLine('m{a="x\\"y",b="c\\\\d",c="l1\\nl2",d="1,2}",} 4.5 1700000000000');
  assert.deepEqual(s.labels, { a: 'x"y', b: 'c\\d', c: 'l1\nl2', d: '1,2}' });
  assert.equal(s.value, 4.5);
});

test('special values and exponents', () => {
  assert.equal(parseSampleLine('m +Inf').value, Infinity);
  assert.equal(parseSampleLine('m -Inf').value, -Infinity);
  assert.ok(Number.isNaN(parseSampleLine('m NaN').value));
  assert.equal(parseSampleLine('m{} 1e3').value, 1000);
});

test('malformed lines are errors, not zeros', () => {
  for (const bad of ['m{a="x} 1', 'm{a=x} 1', 'm{a="x"', 'm', 'm abc', '{a="b"} 1', 'm{a="b"} 1 2 3', 'm{a="\\q"} 1']) {
    assert.throws(() => parseSampleLine(bad), MetricsFormatError, bad);
  }
});
