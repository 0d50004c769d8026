// The steps of a template job: each one's state, its tasks by state, and what it waits for.
import type { StepInfo } from '../api.ts';
import { StatusBadge } from '../components.tsx';
import { num } from '../format.ts';

export function StepsPanel({ steps }: { steps: StepInfo[] }) {
  return (
    <section class="panel" aria-label="Steps" data-testid="steps-panel">
      <h2>Steps</h2>
      <table class="table">
        <thead>
          <tr>
            <th>Step</th>
            <th>State</th>
            <th>Tasks</th>
            <th>Waits for</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s) => (
            <tr key={s.index} data-testid={`step-${s.index}`}>
              <td>{s.name}</td>
              <td>
                <StatusBadge status={s.status} />
                {s.unschedulable && <div class="hint">{s.unschedulable}</div>}
              </td>
              <td>
                {num(s.counts.done)}/{num(s.taskCount)} done
                {s.counts.running > 0 && `, ${num(s.counts.running)} running`}
                {s.counts.error > 0 && `, ${num(s.counts.error)} failed`}
              </td>
              <td>{s.dependsOn.length > 0 ? s.dependsOn.join(', ') : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
