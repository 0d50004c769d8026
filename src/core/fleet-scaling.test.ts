import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { agentsNeeded, decideScaling, type ScalingInput, type ScalingPolicy, type WorkLoad } from './fleet-scaling.js';

const policy: ScalingPolicy = { min: 0, max: 4, step: 1, idleSeconds: 60, slots: 1 };
const s = (queued: number, running = 0): WorkLoad => ({ cores: 1, queued, running });

function decide(over: Partial<Omit<ScalingInput, 'policy'>> & { policy?: Partial<ScalingPolicy> } = {}) {
  return decideScaling({ nowMs: 1_000_000, active: 0, draining: 0, work: [], lastWorkAtMs: null, ...over, policy: { ...policy, ...over.policy } });
}

/** Runs decisions in sequence as the fleet would, applying each one to the agent counts. */
function simulate(steps: { work: WorkLoad[]; atMs: number }[], p: Partial<ScalingPolicy>) {
  let active = 0;
  let lastWorkAtMs: number | null = null;
  const seen: number[] = [];
  for (const step of steps) {
    const d = decide({ nowMs: step.atMs, active, work: step.work, lastWorkAtMs, policy: p });
    active += d.start - d.stop;
    lastWorkAtMs = d.lastWorkAtMs;
    seen.push(active);
  }
  return seen;
}

test('no work and min 0: no agents, nothing to do', () => {
  const d = decide();
  assert.equal(d.action, 'hold');
  assert.equal(d.start + d.stop, 0);
  assert.equal(d.target, 0);
});

test('a burst grows the fleet by step per decision up to max, never past it', () => {
  const burst = Array.from({ length: 8 }, (_, i) => ({ work: [s(12)], atMs: i * 1000 }));
  assert.deepEqual(simulate(burst, { max: 3, step: 1 }), [1, 2, 3, 3, 3, 3, 3, 3]);
  assert.deepEqual(simulate(burst, { max: 5, step: 2 }), [2, 4, 5, 5, 5, 5, 5, 5]);
  const first = decide({ work: [s(12)], policy: { max: 3 } });
  assert.equal(first.action, 'start');
  assert.match(first.reason, /12 queued tasks, 0 running need 12 agents of 1 slot \(capped at max 3\)/);
});

test('the need is counted in cores: big tasks need more agents, small ones pack several per agent', () => {
  assert.equal(agentsNeeded([{ cores: 1, queued: 8, running: 0 }], 4), 2);
  assert.equal(agentsNeeded([{ cores: 4, queued: 3, running: 0 }], 4), 3);
  // 3-core tasks on 4-slot agents: one per agent, the spare core cannot host another.
  assert.equal(agentsNeeded([{ cores: 3, queued: 4, running: 0 }], 4), 4);
  assert.equal(agentsNeeded([{ cores: 1, queued: 1, running: 2 }], 3), 1);
  assert.equal(decide({ work: [{ cores: 2, queued: 4, running: 0 }], policy: { slots: 4, step: 10, max: 10 } }).start, 2);
});

test('running tasks count as need: agents are not started for work already being done', () => {
  const d = decide({ active: 3, work: [s(0, 3)], lastWorkAtMs: 1_000_000, policy: { max: 10 } });
  assert.equal(d.action, 'hold');
  assert.equal(decide({ active: 3, work: [s(2, 3)], policy: { max: 10, step: 5 } }).start, 2);
});

test('draining agents count against max: they still hold cores until their tasks end', () => {
  const d = decide({ active: 1, draining: 2, work: [s(10, 2)], policy: { max: 3, step: 5 } });
  assert.equal(d.start, 0);
  assert.equal(d.action, 'hold');
  assert.match(d.reason, /at max 3 \(2 draining\)/);
  assert.equal(decide({ active: 1, draining: 1, work: [s(10, 1)], policy: { max: 3, step: 5 } }).start, 1);
});

test('min is kept with no work, and reached even when draining agents fill the need', () => {
  assert.equal(decide({ policy: { min: 2, step: 5 } }).start, 2);
  assert.equal(decide({ policy: { min: 2, step: 1 } }).start, 1);
  const atMin = decide({ active: 2, policy: { min: 2 } });
  assert.equal(atMin.action, 'hold');
  assert.match(atMin.reason, /at min 2/);
  assert.equal(decide({ active: 2, draining: 1, work: [s(0, 1)], policy: { min: 3, max: 4 } }).start, 1);
});

test('scaling down waits for idle seconds without queued work, then stops idle agents down to min', () => {
  const quietSince = 1_000_000;
  const early = decide({ nowMs: quietSince + 59_000, active: 3, lastWorkAtMs: quietSince, policy: { min: 1 } });
  assert.equal(early.action, 'hold');
  assert.match(early.reason, /waiting 60s of idle/);
  const late = decide({ nowMs: quietSince + 60_000, active: 3, lastWorkAtMs: quietSince, policy: { min: 1 } });
  assert.equal(late.action, 'stop');
  assert.equal(late.stop, 2);
  assert.equal(decide({ nowMs: quietSince + 3_600_000, active: 1, lastWorkAtMs: quietSince, policy: { min: 1 } }).stop, 0);
});

test('only agents that must be idle are stopped: each running task may occupy one agent', () => {
  const d = decide({ nowMs: 200_000, active: 3, work: [s(0, 2)], lastWorkAtMs: 100_000, policy: { slots: 4 } });
  assert.equal(d.stop, 1);
  const busy = decide({ nowMs: 200_000, active: 3, work: [s(0, 5)], lastWorkAtMs: 100_000, policy: { slots: 4 } });
  assert.equal(busy.stop, 0);
  assert.match(busy.reason, /5 running tasks may occupy every agent/);
});

test('queued work never lets agents go, however long ago the timer started', () => {
  const d = decide({ nowMs: 10_000_000, active: 4, work: [s(1, 0)], lastWorkAtMs: 0, policy: { max: 4 } });
  assert.equal(d.stop, 0);
  assert.equal(d.lastWorkAtMs, 10_000_000);
});

test('new work resets the idle timer', () => {
  const idle = 10;
  const at = (sec: number) => sec * 1000;
  const steps = [
    { work: [s(2)], atMs: at(0) }, // 1 agent
    { work: [s(2)], atMs: at(1) }, // 2 agents
    { work: [s(0)], atMs: at(5) },
    { work: [s(1)], atMs: at(9) }, // new work: the timer starts over at 9 s
    { work: [s(0)], atMs: at(15) }, // 15 s since the burst began but only 6 s since the last work
    { work: [s(0)], atMs: at(18) },
    { work: [s(0)], atMs: at(19) }, // 10 s quiet: stop
  ];
  assert.deepEqual(simulate(steps, { idleSeconds: idle, max: 4 }), [1, 2, 2, 2, 2, 2, 0]);
});

test('tasks bigger than a fleet agent neither start agents nor keep them', () => {
  const d = decide({ work: [{ cores: 16, queued: 5, running: 0 }], policy: { slots: 4 } });
  assert.equal(d.action, 'hold');
  assert.equal(d.lastWorkAtMs, null);
  assert.match(d.reason, /5 queued tasks ask for more than 4 slots/);
  const stop = decide({ nowMs: 100_000, active: 2, work: [{ cores: 16, queued: 5, running: 0 }], lastWorkAtMs: 0, policy: { slots: 4 } });
  assert.equal(stop.stop, 2);
});

test('property: within min and max, at most step started, stops only without queued work', () => {
  const work = fc.array(fc.record({ cores: fc.integer({ min: 1, max: 16 }), queued: fc.nat(50), running: fc.nat(50) }), { maxLength: 4 });
  fc.assert(
    fc.property(
      fc.record({ min: fc.nat(5), extra: fc.nat(10), step: fc.integer({ min: 1, max: 5 }), idleSeconds: fc.nat(120), slots: fc.integer({ min: 1, max: 16 }) }),
      fc.nat(12),
      fc.nat(12),
      work,
      fc.option(fc.nat(200_000)),
      fc.nat(400_000),
      (p, active, draining, w, lastWorkAtMs, nowMs) => {
        const max = p.min + p.extra;
        fc.pre(active + draining <= Math.max(max, p.min));
        const d = decideScaling({ nowMs, active, draining, work: w, lastWorkAtMs, policy: { ...p, max } });
        assert.ok(d.start === 0 || d.stop === 0);
        assert.ok(d.start <= p.step);
        assert.ok(active + draining + d.start <= max);
        assert.ok(active - d.stop >= Math.min(active, p.min));
        const queuedFitting = w.filter((x) => x.cores <= p.slots).reduce((n, x) => n + x.queued, 0);
        if (d.stop > 0) {
          assert.equal(queuedFitting, 0);
          assert.ok(lastWorkAtMs === null || nowMs - lastWorkAtMs >= p.idleSeconds * 1000);
        }
        assert.ok(d.target >= p.min && d.target <= max);
      },
    ),
  );
});
