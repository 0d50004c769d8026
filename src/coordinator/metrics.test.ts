// The one hand-made piece of /metrics: a histogram counted inside the store, handed to prom-client's
// registry as the values it would have made from observations (the rest of /metrics is checked
// against a real store in test/store/store-suite.ts and on replicas in test/e2e/replicas.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { precountedHistogram } from './metrics.js';

test('a precounted histogram is written as prom-client writes one fed the same observations', async () => {
  const bounds = [1, 5, Infinity];
  const observed = [0.5, 3, 3, 9];
  const precounted = new Registry();
  precounted.registerMetric(
    precountedHistogram('x_seconds', 'Help text.', bounds, async () => [
      // Non-cumulative counts per bound: 0.5 ≤ 1; 3, 3 ≤ 5; 9 beyond.
      { labels: { status: 'done' }, counts: [1, 2, 1], sum: 15.5, count: 4 },
      { labels: { status: 'error' }, counts: [0, 0, 0], sum: 0, count: 0 },
    ]),
  );
  const fed = new Registry();
  const histogram = new Histogram({ name: 'x_seconds', help: 'Help text.', labelNames: ['status'], buckets: [1, 5], registers: [fed] });
  for (const v of observed) histogram.observe({ status: 'done' }, v);
  histogram.zero({ status: 'error' });

  // The same series and values; the store's histogram keeps `le` last, as /metrics always wrote it.
  const sorted = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/\{le="([^"]+)",(.*)\}/, '{$2,le="$1"}'))
      .sort();
  const text = await precounted.metrics();
  assert.deepEqual(sorted(text), sorted(await fed.metrics()));
  assert.match(text, /^x_seconds_bucket\{status="done",le="5"\} 3$/m);
  assert.match(text, /^x_seconds_bucket\{status="done",le="\+Inf"\} 4$/m);
  assert.match(text, /^x_seconds_sum\{status="done"\} 15\.5$/m);
  assert.match(text, /^x_seconds_count\{status="error"\} 0$/m);
  assert.match(text, /^# TYPE x_seconds histogram$/m);
});
