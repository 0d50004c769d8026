// The scheduling suites' farms and readings (test/e2e/scheduling*.test.ts): each test gets a farm
// of its own, started with the real agents it asks for; the previous test's is stopped first.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { type Farm, api, jobJson, startFarm } from './farm.js';

export interface TaskJson {
  id: string;
  index: number;
  status: string;
  error: string | null;
}
export interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  waiting: string | null;
  unschedulable: string | null;
  blockedAgents: string[];
  tasks?: TaskJson[];
}
export interface AttemptJson {
  attempt: number;
  agent: string | null;
  status: string;
  startedAt: string;
}

const farms: Farm[] = [];
after(async () => {
  await Promise.all(farms.map((f) => f.stop()));
});

/** A farm of its own for the test that asks; the previous test's, done with, is stopped first (idle farms left running cost CPU the other test files need). */
export async function farmOf(agents: number, slots = 1): Promise<Farm> {
  await Promise.all(farms.splice(0).map((f) => f.stop()));
  const farm = await startFarm({ agents, slots });
  farms.push(farm);
  return farm;
}

/** The job as `drover job view --json` prints it, read over the API (see jobJson). */
export function viewJson(farm: Farm, id: string): Promise<JobJson> {
  return jobJson<JobJson>(farm, id);
}

export async function attemptsOf(farm: Farm, taskId: string): Promise<AttemptJson[]> {
  return (await api<{ attempts: AttemptJson[] }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${taskId}`)).body.attempts;
}

export const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in/job_${i + 1}.txt`, String(i + 1)]));
