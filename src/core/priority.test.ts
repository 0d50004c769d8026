// Properties of the leasing order (priority, fair share, age) and of what one agent takes from it
// (fit, blocklists, requirements, retries elsewhere), as services/leasing.ts composes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type OnlineAgent, agentsThatMayRun, leaveToAnotherAgent, noAgentLeftReason } from './agent-choice.js';
import { type QueuedJob, jobOrder, leaseOrder, priorityProblem } from './priority.js';
import { fitTasks } from './scheduling.js';

interface Task {
  taskId: string;
  jobId: string;
  idx: number;
  cores: number;
}

/** A queue: jobs of a few users at a few priority levels, each with a few tasks of its job's cores. */
const queueArb = fc
  .array(
    fc.record({
      user: fc.constantFrom('alice', 'bob', 'carol'),
      priority: fc.constantFrom(10, 50, 90),
      age: fc.integer({ min: 0, max: 20 }),
      cores: fc.integer({ min: 1, max: 4 }),
      tasks: fc.integer({ min: 1, max: 5 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((specs) => {
    const jobs = new Map<string, QueuedJob>();
    const tasks: Task[] = [];
    specs.forEach((s, j) => {
      const id = `j${j}`;
      jobs.set(id, { id, userId: s.user, priority: s.priority, queuedAt: `2026-01-01T00:00:${String(s.age).padStart(2, '0')}Z` });
      for (let i = 1; i <= s.tasks; i++) tasks.push({ taskId: `${id}-${i}`, jobId: id, idx: i, cores: s.cores });
    });
    return { jobs, tasks };
  });
const runningArb = fc.record({ alice: fc.integer({ min: 0, max: 8 }), bob: fc.integer({ min: 0, max: 8 }), carol: fc.integer({ min: 0, max: 8 }) }).map((r) => new Map(Object.entries(r)));

test('the lease order is a permutation: highest priority first, a job its tasks by index', () => {
  fc.assert(
    fc.property(queueArb, runningArb, ({ jobs, tasks }, running) => {
      // The order does not depend on the order the candidates were read in.
      const order = leaseOrder(tasks, jobs, running);
      assert.deepEqual(leaseOrder([...tasks].reverse(), jobs, running).map((t) => t.taskId), order.map((t) => t.taskId));
      assert.deepEqual(order.map((t) => t.taskId).sort(), tasks.map((t) => t.taskId).sort());
      for (let i = 1; i < order.length; i++) assert.ok(jobs.get(order[i - 1]!.jobId)!.priority >= jobs.get(order[i]!.jobId)!.priority);
      const lastIdx = new Map<string, number>();
      for (const t of order) {
        assert.ok((lastIdx.get(t.jobId) ?? 0) < t.idx);
        lastIdx.set(t.jobId, t.idx);
      }
    }),
  );
});

test('fair share: at equal priority each next task is of the user with the fewest cores, then of their oldest job', () => {
  fc.assert(
    fc.property(queueArb, runningArb, ({ jobs, tasks }, running) => {
      const order = leaseOrder(tasks, jobs, running);
      const cores = new Map(running);
      const left = [...tasks];
      for (const t of order) {
        const job = jobs.get(t.jobId)!;
        const level = left.filter((u) => jobs.get(u.jobId)!.priority === job.priority);
        const usersLeft = new Set(level.map((u) => jobs.get(u.jobId)!.userId));
        for (const other of usersLeft) assert.ok((cores.get(job.userId) ?? 0) <= (cores.get(other) ?? 0), `${job.userId} went before ${other} with more cores running`);
        // Within its user, the oldest job with tasks left.
        const oldest = level.filter((u) => jobs.get(u.jobId)!.userId === job.userId).map((u) => jobs.get(u.jobId)!).sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.id < b.id ? -1 : 1))[0]!;
        assert.equal(job.id, oldest.id);
        cores.set(job.userId, (cores.get(job.userId) ?? 0) + t.cores);
        left.splice(left.indexOf(t), 1);
      }
    }),
  );
});

test('the job order the store reads in agrees: priority, then fewest cores running, then age', () => {
  fc.assert(
    fc.property(queueArb, runningArb, ({ jobs }, running) => {
      const order = jobOrder([...jobs.values()], running);
      for (let i = 1; i < order.length; i++) {
        const [a, b] = [order[i - 1]!, order[i]!];
        assert.ok(a.priority > b.priority || (a.priority === b.priority && (running.get(a.userId) ?? 0) <= (running.get(b.userId) ?? 0)));
      }
    }),
  );
});

/** An agent takes from the lease order what it may take and what fits, as leaseFromWindow (services/leasing.ts) does. */
test('an agent never takes a task of a job it is blocklisted for, one whose requirement it misses, or one it should leave to another agent; what it skips that it may take did not fit', () => {
  const agents: OnlineAgent[] = [
    { id: 'a1', name: 'one', slots: 4 },
    { id: 'a2', name: 'two', slots: 2 },
    { id: 'a3', name: 'three', slots: 8 },
  ];
  fc.assert(
    fc.property(
      queueArb,
      runningArb,
      fc.constantFrom(...agents),
      fc.integer({ min: 0, max: 8 }),
      fc.func(fc.boolean()),
      fc.func(fc.boolean()),
      fc.func(fc.subarray(['a1', 'a2', 'a3'])),
      ({ jobs, tasks }, running, agent, free, blockedFn, meetsFn, failedFn) => {
        const blocked = (jobId: string) => new Set(agents.filter((a) => blockedFn(jobId + a.id)).map((a) => a.id));
        const meets = (t: Task) => meetsFn(t.jobId);
        const failedOn = (t: Task) => new Set(failedFn(t.taskId));
        const mayTake = (t: Task) => !blocked(t.jobId).has(agent.id) && meets(t) && !leaveToAnotherAgent(agent.id, failedOn(t), agentsThatMayRun(t.cores, agents, blocked(t.jobId)));
        const order = leaseOrder(tasks, jobs, running);
        const chosen = fitTasks(free, order.filter(mayTake), Infinity, agent.slots);
        let left = free;
        const taken = new Set(chosen.map((t) => t.taskId));
        for (const t of order) {
          if (taken.has(t.taskId)) {
            assert.ok(mayTake(t));
            assert.ok(t.cores <= left && t.cores <= agent.slots);
            left -= t.cores;
          } else if (mayTake(t)) assert.ok(t.cores > left || t.cores > agent.slots || left <= 0, `${t.taskId} was skipped though it fit`);
        }
      },
    ),
  );
});

test('a job no online agent may run any more has a reason; one some agent may run has none', () => {
  const agents: OnlineAgent[] = [
    { id: 'a1', name: 'one', slots: 4 },
    { id: 'a2', name: 'two', slots: 1 },
  ];
  assert.equal(noAgentLeftReason(1, agents, new Set(['a1']), 3), null);
  assert.match(noAgentLeftReason(1, agents, new Set(['a1', 'a2']), 3)!, /every online agent \(one, two\) has failed 3 of its tasks/);
  // Only the big agent fits 4-core tasks: it alone being blocklisted leaves none.
  assert.match(noAgentLeftReason(4, agents, new Set(['a1']), 3)!, /the only online agent \(one\)/);
  // No agent big enough, or none online: a wait for an agent, not an error.
  assert.equal(noAgentLeftReason(8, agents, new Set(['a1', 'a2']), 3), null);
  assert.equal(noAgentLeftReason(1, [], new Set(), 3), null);
  // A retry goes elsewhere while another agent may run it, and anywhere once it failed on all.
  assert.equal(leaveToAnotherAgent('a1', new Set(['a1']), agents), true);
  assert.equal(leaveToAnotherAgent('a1', new Set(['a1', 'a2']), agents), false);
  assert.equal(leaveToAnotherAgent('a1', new Set(['a1']), agentsThatMayRun(1, agents, new Set(['a2']))), false);
  assert.equal(leaveToAnotherAgent('a2', new Set(['a1']), agents), false);
});

test('priorities are whole numbers from 0 to 100', () => {
  assert.equal(priorityProblem(0), null);
  assert.equal(priorityProblem(100), null);
  assert.match(priorityProblem(101)!, /from 0 to 100/);
  assert.match(priorityProblem(2.5)!, /whole number/);
});
