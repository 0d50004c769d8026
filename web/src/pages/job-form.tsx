// What the job forms share: the kind switch, instance sizes and upload progress (all three forms),
// and the one form the script and render jobs are both made with (JobForm, with useJobForm for its
// state): title, run settings, start, summary, progress, errors and submission. Each kind's page
// brings only its own fields.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, isAbort, messageOf, type InstanceType, type Job, type SchedulingRequest } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { bytes, num, plural } from '../format.ts';
import { href, navigate } from '../router.ts';
import type { UploadPhase } from '../upload.ts';
import { SchedulingFields, coresOf, emptyScheduling, schedulingRequest, type SchedulingValues } from '../SchedulingFields.tsx';

export const SIZES: { type: InstanceType; cores: number; label: string }[] = [
  { type: 's', cores: 1, label: 'Small' },
  { type: 'm', cores: 4, label: 'Medium' },
  { type: 'l', cores: 8, label: 'Large' },
  { type: 'xl', cores: 16, label: 'Extra large' },
];

/** Script job or render job: two links, so each form has its own address. */
export function JobKindSwitch({ kind, disabled }: { kind: 'script' | 'render' | 'template'; disabled: boolean }) {
  const items = [
    { key: 'script', label: 'Script job', to: href('/jobs/new') },
    { key: 'render', label: 'Render job', to: href('/jobs/new', { kind: 'render' }) },
    { key: 'template', label: 'Job template', to: href('/jobs/new', { kind: 'template' }) },
  ] as const;
  return (
    <nav class="tabs kind-switch" aria-label="Kind of job">
      {items.map((item) => (
        <a
          key={item.key}
          href={disabled ? undefined : item.to}
          class={`tab${item.key === kind ? ' active' : ''}${disabled && item.key !== kind ? ' disabled' : ''}`}
          aria-current={item.key === kind ? 'page' : undefined}
          data-testid={`kind-${item.key}`}
        >
          {item.label}
        </a>
      ))}
    </nav>
  );
}

export function SizePicker({ size, disabled, onChange }: { size: InstanceType; disabled: boolean; onChange: (size: InstanceType) => void }) {
  return (
    <fieldset class="field" disabled={disabled}>
      <legend>Instance size</legend>
      <div class="segmented" role="radiogroup" aria-label="Instance size">
        {SIZES.map((s) => (
          <label key={s.type} class={`segment${size === s.type ? ' active' : ''}`}>
            <input type="radio" name="instanceType" value={s.type} checked={size === s.type} onChange={() => onChange(s.type)} data-testid={`size-${s.type}`} />
            <strong>{s.type.toUpperCase()}</strong>
            <span>{plural(s.cores, 'core')}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function UploadProgress({ phase }: { phase: UploadPhase }) {
  let label = '';
  let fraction = 0;
  if (phase.step === 'unpacking') {
    label = `Unpacking the zip… ${num(phase.done)} / ${num(phase.total)} files`;
    fraction = phase.total ? phase.done / phase.total : 1;
  } else if (phase.step === 'hashing') {
    label = `Hashing files… ${bytes(phase.done)} / ${bytes(phase.total)}`;
    fraction = phase.total ? phase.done / phase.total : 1;
  } else if (phase.step === 'checking') {
    label = 'Checking which files the farm already has…';
    fraction = 1;
  } else if (phase.step === 'uploading') {
    label =
      phase.files === 0
        ? 'All files already on the farm, nothing to upload.'
        : `Uploading ${num(phase.filesDone)}/${num(phase.files)} files… ${bytes(phase.sent)} / ${bytes(phase.total)}`;
    fraction = phase.total ? phase.sent / phase.total : 1;
  } else if (phase.step === 'creating') {
    label = 'Creating the job…';
    fraction = 1;
  }
  return (
    <div class="upload" data-testid="upload-progress" data-step={phase.step}>
      <div class="upload-label">{label}</div>
      <div class="progress-bar">
        <span class="seg seg-running" style={{ width: `${Math.min(100, fraction * 100)}%` }} />
      </div>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// The form of script and render jobs.

/** The image select's value for "type a reference". */
const OTHER_IMAGE = ':other'; // no image name contains ':'

/** One of the user's named images (GET /images). */
interface ImageOption {
  name: string;
  ref: string;
  default: boolean;
}

/** How a job runs its tasks, as typed in the form. */
export interface RunSettings {
  size: InstanceType;
  start: boolean;
  scheduling: SchedulingValues;
  maxAttempts: string;
  timeout: string;
  /** '' = the user's default image (or none); a name; or OTHER_IMAGE with the reference typed in `image`. */
  imageChoice: string;
  image: string;
}

/** The request fields every kind takes from the run settings. */
export type RunRequest = SchedulingRequest & { instanceType: InstanceType; maxAttempts: number; start: boolean; taskTimeoutSeconds?: number; image?: string };

/**
 * How a form reads the task timeout typed: seconds, undefined when empty, null when refused (then
 * `problem` is shown). The script form takes any positive number, the render form whole seconds up
 * to a week; each keeps the rule and the message it had.
 */
export interface TimeoutRule {
  read(text: string): number | undefined | null;
  problem: string;
}

/** The request's run fields, or what is wrong with what was typed (one sentence). */
export function runRequest(run: RunSettings, timeoutRule: TimeoutRule): { fields: RunRequest } | { problem: string } {
  const attempts = Number(run.maxAttempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) return { problem: 'Max attempts must be between 1 and 20.' };
  const timeoutSeconds = timeoutRule.read(run.timeout);
  if (timeoutSeconds === null) return { problem: timeoutRule.problem };
  const scheduled = schedulingRequest(run.scheduling);
  if ('problem' in scheduled) return scheduled;
  const fields: RunRequest = { instanceType: run.size, maxAttempts: attempts, start: run.start, ...scheduled.fields };
  if (timeoutSeconds !== undefined) fields.taskTimeoutSeconds = timeoutSeconds;
  const image = run.imageChoice === OTHER_IMAGE ? run.image.trim() : run.imageChoice;
  if (image) fields.image = image;
  return { fields };
}

/** What a submission drives of its form: the Stop upload controller, the progress and the error shown. */
export interface SubmitState {
  abort: { current: AbortController | null };
  setPhase: (phase: UploadPhase) => void;
  setError: (error: string | null) => void;
}

/**
 * Uploads what `upload` sends and creates the job it describes, then opens the job's page; a
 * failure (or Stop upload) goes back to the form with its message. Every job form submits through
 * this (the template form too, which keeps its own state), so they end a submission alike.
 */
export async function submitJobWith(form: SubmitState, upload: (signal: AbortSignal) => Promise<object>): Promise<void> {
  const controller = new AbortController();
  form.abort.current = controller;
  try {
    const spec = await upload(controller.signal);
    form.setPhase({ step: 'creating' });
    const job = await api<Job>('jobs', { body: spec, signal: controller.signal });
    navigate(`/jobs/${encodeURIComponent(job.id)}`);
  } catch (e) {
    form.setPhase({ step: 'idle' });
    form.setError(isAbort(e) ? 'Upload canceled.' : messageOf(e));
  } finally {
    form.abort.current = null;
  }
}

/** The state of a job form beside its kind's own fields; `submitJob` runs a submission. */
export function useJobForm() {
  const [run, setRun] = useState<RunSettings>(() => ({ size: 's', start: true, scheduling: emptyScheduling(), maxAttempts: '3', timeout: '', imageChoice: '', image: '' }));
  const [phase, setPhase] = useState<UploadPhase>({ step: 'idle' });
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const busy = phase.step !== 'idle';
  const cores = coresOf(run.scheduling) ?? SIZES.find((s) => s.type === run.size)!.cores;
  const changeRun = (change: Partial<RunSettings>) => setRun((current) => ({ ...current, ...change }));

  const submitJob = (upload: (signal: AbortSignal) => Promise<object>) => submitJobWith({ abort, setPhase, setError }, upload);
  return { run, changeRun, phase, setPhase, error, setError, busy, cores, abort, submitJob };
}

export type JobFormState = ReturnType<typeof useJobForm>;

/** The container image: the user's named images (GET /images), their default, or a typed reference. */
function ImageField({ run, busy, onChange }: { run: RunSettings; busy: boolean; onChange: (change: Partial<RunSettings>) => void }) {
  const [images, setImages] = useState<ImageOption[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    // Without the list the form still works: the default applies, or a reference can be typed.
    api<{ images: ImageOption[] }>('images', { signal: controller.signal }).then(
      (answer) => setImages(answer.images),
      () => undefined,
    );
    return () => controller.abort();
  }, []);
  const defaultImage = images.find((i) => i.default);
  return (
    <label class="field">
      <span>Container image</span>
      <select name="imageChoice" value={run.imageChoice} disabled={busy} onChange={(e) => onChange({ imageChoice: e.currentTarget.value })} data-testid="image-select">
        <option value="">{defaultImage ? `Your default (${defaultImage.name})` : 'None: run on the host'}</option>
        {images.map((i) => (
          <option key={i.name} value={i.name} title={i.ref}>
            {i.name}
          </option>
        ))}
        <option value={OTHER_IMAGE}>Other image reference…</option>
      </select>
      {run.imageChoice === OTHER_IMAGE && (
        <input name="image" placeholder="e.g. python:3.12-slim" value={run.image} disabled={busy} onInput={(e) => onChange({ image: e.currentTarget.value })} />
      )}
    </label>
  );
}

export interface JobFormProps {
  kind: 'script' | 'render';
  /** The page header's line under "New job", and what sits beside the title (links). */
  sub: string;
  headerActions?: ComponentChildren;
  formTestId: string;
  state: JobFormState;
  onSubmit: (event: Event) => void;
  title: { value: string; onInput: (value: string) => void; placeholder: string; required?: boolean };
  /** The script form offers the container image; the render form does not (yet). */
  withImage?: boolean;
  /** Shown above the summary (e.g. files whose names clash). */
  notice?: ComponentChildren;
  summary: { tasks: number; details?: ComponentChildren; bytes: number; files: number };
  /** "job" or "render": the submit button's noun. */
  submitNoun: string;
  /** The kind's own fields, between the title and the instance size. */
  children: ComponentChildren;
}

export function JobForm(props: JobFormProps) {
  const { state, summary } = props;
  const { run, changeRun, busy, phase, error, setError } = state;
  return (
    <div class="page page-narrow" data-testid="new-job-page">
      <PageHeader title="New job" sub={props.sub}>
        {props.headerActions}
      </PageHeader>
      <JobKindSwitch kind={props.kind} disabled={busy} />
      {/* A message about what was typed goes once the form changes: it would be stale. */}
      <form class="form panel" onSubmit={props.onSubmit} onInput={() => setError(null)} data-testid={props.formTestId} noValidate>
        <ErrorBanner error={error} onDismiss={() => setError(null)} scrollIntoView />
        <label class="field">
          <span>Job title</span>
          <input
            name="name"
            required={props.title.required}
            maxLength={200}
            placeholder={props.title.placeholder}
            value={props.title.value}
            disabled={busy}
            onInput={(e) => props.title.onInput(e.currentTarget.value)}
          />
        </label>

        {props.children}

        <SizePicker size={run.size} disabled={busy} onChange={(size) => changeRun({ size })} />
        <SchedulingFields value={run.scheduling} disabled={busy} onChange={(scheduling) => changeRun({ scheduling })} />

        <details class="advanced">
          <summary>Advanced</summary>
          <div class="grid-3">
            <label class="field">
              <span>Max attempts</span>
              <input type="number" name="maxAttempts" min={1} max={20} value={run.maxAttempts} disabled={busy} onInput={(e) => changeRun({ maxAttempts: e.currentTarget.value })} />
            </label>
            <label class="field">
              <span>Task timeout (s)</span>
              <input type="number" name="taskTimeoutSeconds" min={1} placeholder="none" value={run.timeout} disabled={busy} onInput={(e) => changeRun({ timeout: e.currentTarget.value })} />
            </label>
            {props.withImage && <ImageField run={run} busy={busy} onChange={changeRun} />}
          </div>
        </details>

        <label class="check">
          <input type="checkbox" name="start" checked={run.start} disabled={busy} onChange={(e) => changeRun({ start: e.currentTarget.checked })} data-testid="start-now" />
          <span>Start the job now</span>
        </label>

        {props.notice}

        <div class="summary" data-testid="task-summary">
          <span>
            <strong data-testid="task-count">{num(summary.tasks)}</strong> {summary.tasks === 1 ? 'task' : 'tasks'}
          </span>
          <span class="muted">·</span>
          {summary.details}
          <span>{plural(state.cores, 'core')} each</span>
          <span class="muted">·</span>
          <span>
            {bytes(summary.bytes)} in {plural(summary.files, 'file')}
          </span>
        </div>

        {busy && <UploadProgress phase={phase} />}

        <div class="form-actions">
          <a class="btn btn-ghost" href={href('/jobs')}>
            Cancel
          </a>
          {busy && phase.step !== 'creating' && (
            <button type="button" class="btn" onClick={() => state.abort.current?.abort()}>
              Stop upload
            </button>
          )}
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="submit-job">
            {busy ? 'Submitting…' : `Submit ${props.submitNoun}${summary.tasks ? ` (${plural(summary.tasks, 'task')})` : ''}`}
          </button>
        </div>
      </form>
    </div>
  );
}
