// The program of a template task: in its step's session (entered once, shared by the step's
// consecutive tasks on this agent), writes the step's embedded files, runs its onRun action with
// the task's parameter values, passes on what the action says of itself (openjd_progress,
// openjd_status, openjd_fail), and hands what it wrote under OUT/INOUT PATH parameters to the
// runner as result files `outputs/<Param>/…`.
import { join } from 'node:path';
import type { TemplateJobSpec, TemplateTaskSpec } from '../../wire/templates.js';
import { mapLookup, resolveFormatString } from '../../core/templates/format-string.js';
import { LineSplitter, parseStdoutMessage } from '../../core/templates/stdout-messages.js';
import type { ProgramFactory } from '../task-program.js';
import { taskEnvironment } from '../task-runner.js';
import { runAction } from './run-action.js';
import { type TemplateSessions, linkChanged, paramDir, snapshot } from './template-sessions.js';

/** Progress and status reach the coordinator at most this often per task (the last one always). */
const STATUS_INTERVAL_MS = 500;

export function templateProgram(sessions: TemplateSessions): ProgramFactory {
  return async (ctx) => {
    const { task } = ctx;
    const spec = task.jobSpec as TemplateJobSpec;
    const own = task.taskSpec as TemplateTaskSpec;
    const step = spec.template.steps[own.step]!;
    return {
      argv: [],
      ownsFiles: true,
      async execute(io) {
        const base = (dir: string) => {
          const env = taskEnvironment(task, dir);
          delete (env as Partial<typeof env>).DROVER_OUTPUT_DIR;
          return env;
        };
        const { session, fresh } = await sessions.acquire(task.jobId, own.step, spec, task.image !== null, ctx.launch, io, base, ctx.log);
        if (!fresh) ctx.log(`continuing session of step "${step.name}" (its environments are entered already)`);
        try {
          const values = session.baseValues();
          for (const [name, value] of Object.entries(own.parameters)) {
            values.set(`Task.Param.${name}`, value);
            values.set(`Task.RawParam.${name}`, value);
          }
          await session.writeEmbedded(step.script.embeddedFiles ?? [], `step-${own.step}-task`, values, 'Task.File');
          const lookup = mapLookup(values);
          const onRun = step.script.actions.onRun;
          const argv = [resolveFormatString(onRun.command, lookup), ...(onRun.args ?? []).map((a) => resolveFormatString(a, lookup))];

          let fail: string | null = null;
          const status = new StatusReporter(ctx.client, task.taskId, task.attempt);
          const lines = new LineSplitter((line) => {
            const m = parseStdoutMessage(line);
            if (!m) return;
            if (m.kind === 'progress') status.set({ progress: m.percent });
            else if (m.kind === 'status') status.set({ message: m.message.slice(0, 2000) });
            else if (m.kind === 'fail') fail = m.message || 'the task said it failed (openjd_fail)';
          });

          const outputs = Object.entries(spec.dataParameters).filter(([, d]) => d.flow === 'OUT' || d.flow === 'INOUT');
          const before = new Map<string, Map<string, string>>();
          for (const [name] of outputs) before.set(name, await snapshot(paramDir(session.dir, name)));

          const outcome = await runAction(
            ctx.launch.bind(null),
            { argv, cwd: session.dir, env: session.actionEnv(base(session.visibleDir)) },
            { stdout: (c) => (io.stdout(c), lines.push(c)), stderr: io.stderr, signal: io.signal },
            onRun.timeout,
          );
          lines.end();
          await status.flush();
          let collected = 0;
          for (const [name] of outputs) collected += await linkChanged(paramDir(session.dir, name), before.get(name)!, join(ctx.taskDir, 'run-result', 'outputs', name));
          if (collected > 0) ctx.log(`${collected} output file(s) written under ${outputs.map(([n]) => n).join(', ')}`);
          if (fail) return { code: outcome.code, error: `openjd_fail: ${fail}` };
          return { code: outcome.code, ...(outcome.error ? { error: `the onRun action ${outcome.error}` } : {}) };
        } finally {
          sessions.release(session);
        }
      },
    };
  };
}

/** Sends a task's progress and status message, coalesced, never holding the task up. */
class StatusReporter {
  private pending: { progress?: number; message?: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: import('../../client/api-client.js').ApiClient,
    private readonly taskId: string,
    private readonly attempt: number,
  ) {}

  set(update: { progress?: number; message?: string }): void {
    this.pending = { ...this.pending, ...update };
    if (!this.timer) this.timer = setTimeout(() => void this.send(), STATUS_INTERVAL_MS);
  }

  private send(): Promise<void> {
    this.timer = null;
    const body = this.pending;
    this.pending = null;
    if (!body) return this.inflight;
    this.inflight = this.inflight.then(() =>
      this.client.json('POST', `/agent/tasks/${this.taskId}/status`, { attempt: this.attempt, ...body }).then(
        () => undefined,
        () => undefined,
      ),
    );
    return this.inflight;
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.send();
  }
}
