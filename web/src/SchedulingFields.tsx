// The scheduling part of every submit form (script, render, template): priority, the jobs it runs
// after, and what its tasks ask of an agent (cores, memory, GPUs, labels). The same fields as the
// CLI's --priority, --after/--after-any, --cores, --memory, --gpus and --require (docs/api.md).
import { useEffect, useState } from 'preact/hooks';
import { api, type Job, type JobList, type SchedulingRequest } from './api.ts';
import { plural } from './format.ts';
import { parseRequirement } from '../../src/core/job-requirements.ts';
import { priorityProblem } from '../../src/core/priority.ts';

/** What the fields hold, as typed. */
export interface SchedulingValues {
  priority: string;
  after: string;
  afterAny: boolean;
  cores: string;
  memoryMiB: string;
  gpus: string;
  labels: string;
}

export const DEFAULT_PRIORITY = 50;

export function emptyScheduling(): SchedulingValues {
  return { priority: String(DEFAULT_PRIORITY), after: '', afterAny: false, cores: '', memoryMiB: '', gpus: '', labels: '' };
}

/** Job ids typed in "Run after": separated by commas or spaces. */
export function afterIds(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** A whole number typed in an optional field: undefined when empty, null when not one in range. */
function wholeNumber(text: string, min: number, max: number): number | undefined | null {
  if (!text.trim()) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : null;
}

/** The cores each task asks for when given here (instead of the instance size's), else undefined. */
export function coresOf(values: SchedulingValues): number | undefined {
  return wholeNumber(values.cores, 1, 1024) ?? undefined;
}

/** The request's scheduling fields, or what is wrong with what was typed (one sentence). */
export function schedulingRequest(values: SchedulingValues): { fields: SchedulingRequest } | { problem: string } {
  const fields: SchedulingRequest = {};
  const priority = Number(values.priority.trim() || DEFAULT_PRIORITY);
  const priorityWrong = priorityProblem(priority);
  if (priorityWrong) return { problem: 'The priority must be a whole number from 0 to 100 (higher runs first).' };
  if (priority !== DEFAULT_PRIORITY) fields.priority = priority;
  const after = afterIds(values.after);
  if (after.length > 100) return { problem: 'A job can run after at most 100 jobs.' };
  if (after.length > 0) {
    fields.after = after;
    if (values.afterAny) fields.afterAny = true;
  }
  const cores = wholeNumber(values.cores, 1, 1024);
  if (cores === null) return { problem: 'Cores per task must be a whole number from 1 to 1024.' };
  if (cores !== undefined) fields.cores = cores;
  const memoryMiB = wholeNumber(values.memoryMiB, 1, 16 * 1024 * 1024);
  if (memoryMiB === null) return { problem: 'Memory must be a whole number of MiB, at least 1.' };
  const gpus = wholeNumber(values.gpus, 0, 64);
  if (gpus === null) return { problem: 'GPUs must be a whole number from 0 to 64.' };
  const labels: Record<string, string> = {};
  for (const text of values.labels.split(/[\s,]+/).filter(Boolean)) {
    const parsed = parseRequirement(text);
    if ('problem' in parsed) return { problem: `Required labels: "${text}" is not key=value (a name of letters, digits, _ . - / and a value of 1 to 200 characters).` };
    labels[parsed.key] = parsed.value;
  }
  const requirements = {
    ...(memoryMiB !== undefined ? { memoryMiB } : {}),
    ...(gpus ? { gpus } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
  if (Object.keys(requirements).length > 0) fields.requirements = requirements;
  return { fields };
}

/** One line saying what is set, shown on the closed section. */
function summary(values: SchedulingValues): string {
  const parts = [`priority ${values.priority.trim() || DEFAULT_PRIORITY}`];
  const after = afterIds(values.after);
  if (after.length > 0) parts.push(`after ${after.length === 1 ? after[0] : `${after.length} jobs`}`);
  const count = (text: string) => (Number.isFinite(Number(text)) ? Number(text) : 0);
  if (values.cores.trim()) parts.push(plural(count(values.cores), 'core'));
  if (values.memoryMiB.trim()) parts.push(`${values.memoryMiB.trim()} MiB`);
  if (count(values.gpus) > 0) parts.push(plural(count(values.gpus), 'GPU'));
  const labels = values.labels.split(/[\s,]+/).filter(Boolean);
  if (labels.length > 0) parts.push(labels.join(' '));
  return parts.join(' · ');
}

/** The caller's jobs that a new one could wait for: not ended in error or canceled, newest first. */
function useRecentJobs(): Job[] {
  const [jobs, setJobs] = useState<Job[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    // Without the list the ids can still be typed.
    api<JobList>('jobs?limit=30', { signal: controller.signal }).then(
      (list) => setJobs(list.jobs.filter((j) => j.status !== 'error' && j.status !== 'canceled')),
      () => undefined,
    );
    return () => controller.abort();
  }, []);
  return jobs;
}

export function SchedulingFields({ value, disabled, onChange }: { value: SchedulingValues; disabled: boolean; onChange: (next: SchedulingValues) => void }) {
  const recent = useRecentJobs();
  const set = (patch: Partial<SchedulingValues>) => onChange({ ...value, ...patch });
  const chosen = afterIds(value.after);
  const addAfter = (id: string) => {
    if (id && !chosen.includes(id)) set({ after: [...chosen, id].join(', ') });
  };
  return (
    <details class="scheduling-fields" data-testid="scheduling-fields">
      <summary>
        Scheduling <span class="muted" data-testid="scheduling-summary">{summary(value)}</span>
      </summary>
      <div class="grid-3">
        <label class="field">
          <span>Priority</span>
          <input type="number" name="priority" min={0} max={100} value={value.priority} disabled={disabled} onInput={(e) => set({ priority: e.currentTarget.value })} data-testid="priority-input" />
          <span class="hint">0–100, higher runs first.</span>
        </label>
        <div class="field field-span-2">
          <label for="after-input">Run after</label>
          <input id="after-input" name="after" placeholder="job ids, e.g. j_abc123" value={value.after} disabled={disabled} onInput={(e) => set({ after: e.currentTarget.value })} data-testid="after-input" />
          {recent.length > 0 && (
            <select
              aria-label="Add one of your jobs"
              value=""
              disabled={disabled}
              onChange={(e) => {
                addAfter(e.currentTarget.value);
                e.currentTarget.value = '';
              }}
              data-testid="after-pick"
            >
              <option value="">Add one of your jobs…</option>
              {recent.map((j) => (
                <option key={j.id} value={j.id} disabled={chosen.includes(j.id)}>
                  {j.name} ({j.status}, {j.id})
                </option>
              ))}
            </select>
          )}
          <label class="check">
            <input type="checkbox" name="afterAny" checked={value.afterAny} disabled={disabled || chosen.length === 0} onChange={(e) => set({ afterAny: e.currentTarget.checked })} data-testid="after-any" />
            <span>Run however they end (not only when they are done)</span>
          </label>
        </div>
        <label class="field">
          <span>Cores per task</span>
          <input type="number" name="cores" min={1} max={1024} placeholder="the size's" value={value.cores} disabled={disabled} onInput={(e) => set({ cores: e.currentTarget.value })} data-testid="cores-input" />
        </label>
        <label class="field">
          <span>Memory (MiB)</span>
          <input type="number" name="memoryMiB" min={1} placeholder="any" value={value.memoryMiB} disabled={disabled} onInput={(e) => set({ memoryMiB: e.currentTarget.value })} data-testid="memory-input" />
        </label>
        <label class="field">
          <span>GPUs</span>
          <input type="number" name="gpus" min={0} max={64} placeholder="0" value={value.gpus} disabled={disabled} onInput={(e) => set({ gpus: e.currentTarget.value })} data-testid="gpus-input" />
        </label>
        <label class="field field-span-3">
          <span>Required labels</span>
          <input name="labels" placeholder="key=value, e.g. tier=gpu os=linux" value={value.labels} disabled={disabled} onInput={(e) => set({ labels: e.currentTarget.value })} data-testid="labels-input" />
          <span class="hint">Only agents with these labels (their --label, or set on the Workers page) take its tasks.</span>
        </label>
      </div>
    </details>
  );
}
