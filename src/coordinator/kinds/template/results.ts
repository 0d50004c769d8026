// A template job's results: <job>/outputs/<PATH parameter>/<what tasks wrote there>,
// logs/<step name>/task-0001.stdout.txt (numbered within the step).
import type { JobRow } from '../../../store/repositories/jobs.js';
import { pick, stepFolder, taskFolder } from '../../services/result-layout.js';
import type { ResultFileEntry, ResultsIndex } from '../../services/results.js';
import type { ResultTaskRow } from '../kind.js';
import { jobSpecOf, templateTaskSpecOf } from '../../../store/json-columns.js';

export function templateResultsIndex(
  job: JobRow,
  tasks: readonly ResultTaskRow[],
  byTask: ReadonlyMap<string, ResultsIndex['tasks'][number]['files']>,
): ResultsIndex {
  const spec = jobSpecOf(job, 'template');
  const outputs = new Map<string, ResultFileEntry>();
  const logs: ResultFileEntry[] = [];
  const numberInStep = new Map<number, number>();
  const entries = tasks.map((t) => {
    const n = (numberInStep.get(t.step) ?? 0) + 1;
    numberInStep.set(t.step, n);
    const stepName = spec.steps[t.step]?.name ?? String(t.step);
    const folder = `logs/${stepFolder(stepName)}/${taskFolder(n)}`;
    for (const f of byTask.get(t.id) ?? []) {
      // Later steps' files over earlier ones at the same path (tasks are in step order, then index).
      if (f.path.startsWith('outputs/')) outputs.set(f.path, { path: f.path, ...pick(f) });
      else if (f.path === 'stdout.txt' || f.path === 'stderr.txt') logs.push({ path: `${folder}.${f.path}`, ...pick(f) });
    }
    const own = t.spec ? templateTaskSpecOf(t.spec) : null;
    return {
      index: t.idx,
      id: t.id,
      input: t.input_name,
      status: t.status,
      attempts: t.attempt,
      folder,
      step: stepName,
      parameters: own?.parameters ?? {},
      files: byTask.get(t.id) ?? [],
    };
  });
  const byStep = [...outputs.values()];
  return {
    jobId: job.id,
    name: job.name,
    kind: job.kind,
    status: job.status,
    files: [...byStep, ...logs],
    steps: spec.steps.map((s, index) => ({ index, name: s.name, dependsOn: s.dependsOn.map((d) => spec.steps[d]!.name), taskCount: s.taskCount })),
    tasks: entries,
  };
}
