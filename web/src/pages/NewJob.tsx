import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, isAbort, messageOf, type FileRef, type InstanceType, type Job, type ScriptJobSpec } from '../api.ts';
import { ErrorBanner, PageHeader, reveal } from '../components.tsx';
import { bytes, compareNatural, num, plural } from '../format.ts';
// The coordinator's own checks: script, constants and each input share one directory.
import { sharedNameClashes } from '../../../src/core/inputs.ts';
import { useDocumentTitle } from '../hooks.ts';
import { href, navigate } from '../router.ts';
import { uploadFiles, type UploadPhase } from '../upload.ts';
import { JobKindSwitch, SIZES, SizePicker, UploadProgress } from './job-form.tsx';
import { NewRenderJob } from './NewRenderJob.tsx';
import { NewTemplateJob } from './NewTemplateJob.tsx';
import { SchedulingFields, coresOf, emptyScheduling, schedulingRequest } from '../SchedulingFields.tsx';

const PREVIEW = 12;
/** The image select's value for "type a reference". */
const OTHER_IMAGE = ':other'; // no image name contains ':'

/** One of the user's named images (GET /images). */
interface ImageOption {
  name: string;
  ref: string;
  default: boolean;
}



/** Adds picked files to a list: one entry per name (a newer pick replaces), natural name order. */
function mergeFiles(current: File[], picked: FileList | null): File[] {
  const byName = new Map(current.map((f) => [f.name, f]));
  for (const file of Array.from(picked ?? [])) byName.set(file.name, file);
  return [...byName.values()].sort((a, b) => compareNatural(a.name, b.name));
}

/** New job: a script job, or a render job (#/jobs/new?kind=render). */
export function NewJob({ params }: { params: URLSearchParams }) {
  if (params.get('kind') === 'render') return <NewRenderJob />;
  if (params.get('kind') === 'template') return <NewTemplateJob />;
  return <NewScriptJob />;
}

function NewScriptJob() {
  const [name, setName] = useState('');
  const [script, setScript] = useState<File | null>(null);
  const [inputs, setInputs] = useState<File[]>([]);
  const [constants, setConstants] = useState<File[]>([]);
  const [size, setSize] = useState<InstanceType>('s');
  const [start, setStart] = useState(true);
  const [scheduling, setScheduling] = useState(emptyScheduling);
  const [maxAttempts, setMaxAttempts] = useState('3');
  const [timeout, setTimeoutValue] = useState('');
  const [image, setImage] = useState('');
  const [images, setImages] = useState<ImageOption[]>([]);
  // '' = the user's default image (or none); a name; or OTHER_IMAGE with the reference typed in `image`.
  const [imageChoice, setImageChoice] = useState('');
  const [phase, setPhase] = useState<UploadPhase>({ step: 'idle' });
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  useDocumentTitle('New job');

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

  const busy = phase.step !== 'idle';
  const problem = useMemo(() => sharedNameClashes(script, constants, inputs), [script, constants, inputs]);
  const totalBytes = useMemo(
    () => (script?.size ?? 0) + [...inputs, ...constants].reduce((sum, f) => sum + f.size, 0),
    [script, inputs, constants],
  );
  const cores = coresOf(scheduling) ?? SIZES.find((s) => s.type === size)!.cores;

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Give the job a title.');
    if (!script) return setError('Choose the script file.');
    if (inputs.length === 0) return setError('Choose at least one data file: each one becomes a task.');
    // The clash is already shown (once) above the summary: bring it into view.
    if (problem) return reveal(document.querySelector('[data-testid="name-clash"]'));
    const attempts = Number(maxAttempts);
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) return setError('Max attempts must be between 1 and 20.');
    const timeoutSeconds = timeout.trim() ? Number(timeout) : undefined;
    if (timeoutSeconds !== undefined && (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)) {
      return setError('The task timeout must be a positive number of seconds.');
    }
    const scheduled = schedulingRequest(scheduling);
    if ('problem' in scheduled) return setError(scheduled.problem);

    const controller = new AbortController();
    abort.current = controller;
    try {
      const files = [script, ...constants, ...inputs];
      const hashes = await uploadFiles(files, setPhase, controller.signal);

      // 4. create the job
      setPhase({ step: 'creating' });
      const ref = (f: File): FileRef => ({ name: f.name, sha256: hashes.get(f)! });
      const spec: ScriptJobSpec = {
        kind: 'script',
        name: name.trim(),
        script: ref(script),
        inputs: inputs.map(ref),
        instanceType: size,
        maxAttempts: attempts,
        start,
        ...scheduled.fields,
      };
      if (constants.length > 0) spec.constants = constants.map(ref);
      if (timeoutSeconds !== undefined) spec.taskTimeoutSeconds = timeoutSeconds;
      const chosenImage = imageChoice === OTHER_IMAGE ? image.trim() : imageChoice;
      if (chosenImage) spec.image = chosenImage;
      const job = await api<Job>('jobs', { body: spec, signal: controller.signal });
      navigate(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (e) {
      setPhase({ step: 'idle' });
      setError(isAbort(e) ? 'Upload canceled.' : messageOf(e));
    } finally {
      abort.current = null;
    }
  };

  return (
    <div class="page page-narrow" data-testid="new-job-page">
      <PageHeader title="New job" sub="A script job: the script runs once per data file, each run is one task." />
      <JobKindSwitch kind="script" disabled={busy} />
      {/* A message about what was typed goes once the form changes: it would be stale. */}
      <form class="form panel" onSubmit={submit} onInput={() => setError(null)} data-testid="new-job-form" noValidate>
        <ErrorBanner error={error} onDismiss={() => setError(null)} scrollIntoView />
        <label class="field">
          <span>Job title</span>
          <input
            name="name"
            required
            maxLength={200}
            placeholder="e.g. Shot 042 denoise"
            value={name}
            disabled={busy}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>

        <div class="field">
          <label for="script-file">Script file</label>
          <input
            id="script-file"
            name="script"
            type="file"
            disabled={busy}
            data-testid="script-input"
            onChange={(e) => setScript(e.currentTarget.files?.[0] ?? null)}
          />
          <span class="hint">Runs in a task directory holding the script, the constants files and its one data file; files written to run-result/ are the results.</span>
        </div>

        <FileListField
          id="data-files"
          label="Data files"
          hint="Each data file becomes one task, in name order."
          files={inputs}
          disabled={busy}
          testid="data-input"
          onPick={(list) => setInputs((cur) => mergeFiles(cur, list))}
          onRemove={(f) => setInputs((cur) => cur.filter((x) => x !== f))}
          onClear={() => setInputs([])}
          numbered
        />

        <FileListField
          id="constants-files"
          label="Constants files"
          hint="Optional: shared by every task (models, lookup tables, settings)."
          files={constants}
          disabled={busy}
          testid="constants-input"
          onPick={(list) => setConstants((cur) => mergeFiles(cur, list))}
          onRemove={(f) => setConstants((cur) => cur.filter((x) => x !== f))}
          onClear={() => setConstants([])}
        />

        <SizePicker size={size} disabled={busy} onChange={setSize} />
        <SchedulingFields value={scheduling} disabled={busy} onChange={setScheduling} />

        <details class="advanced">
          <summary>Advanced</summary>
          <div class="grid-3">
            <label class="field">
              <span>Max attempts</span>
              <input type="number" name="maxAttempts" min={1} max={20} value={maxAttempts} disabled={busy} onInput={(e) => setMaxAttempts(e.currentTarget.value)} />
            </label>
            <label class="field">
              <span>Task timeout (s)</span>
              <input type="number" name="taskTimeoutSeconds" min={1} placeholder="none" value={timeout} disabled={busy} onInput={(e) => setTimeoutValue(e.currentTarget.value)} />
            </label>
            <label class="field">
              <span>Container image</span>
              <select name="imageChoice" value={imageChoice} disabled={busy} onChange={(e) => setImageChoice(e.currentTarget.value)} data-testid="image-select">
                <option value="">{defaultImage ? `Your default (${defaultImage.name})` : 'None: run on the host'}</option>
                {images.map((i) => (
                  <option key={i.name} value={i.name} title={i.ref}>
                    {i.name}
                  </option>
                ))}
                <option value={OTHER_IMAGE}>Other image reference…</option>
              </select>
              {imageChoice === OTHER_IMAGE && (
                <input name="image" placeholder="e.g. python:3.12-slim" value={image} disabled={busy} onInput={(e) => setImage(e.currentTarget.value)} />
              )}
            </label>
          </div>
        </details>

        <label class="check">
          <input type="checkbox" name="start" checked={start} disabled={busy} onChange={(e) => setStart(e.currentTarget.checked)} data-testid="start-now" />
          <span>Start the job now</span>
        </label>

        {problem && (
          <div class="banner banner-warn" role="alert" tabIndex={-1} data-testid="name-clash">
            {problem}
          </div>
        )}

        <div class="summary" data-testid="task-summary">
          <span>
            <strong data-testid="task-count">{num(inputs.length)}</strong> {inputs.length === 1 ? 'task' : 'tasks'}
          </span>
          <span class="muted">·</span>
          <span>{plural(cores, 'core')} each</span>
          <span class="muted">·</span>
          <span>{bytes(totalBytes)} in {plural((script ? 1 : 0) + inputs.length + constants.length, 'file')}</span>
        </div>

        {busy && <UploadProgress phase={phase} />}

        <div class="form-actions">
          <a class="btn btn-ghost" href={href('/jobs')}>
            Cancel
          </a>
          {busy && phase.step !== 'creating' && (
            <button type="button" class="btn" onClick={() => abort.current?.abort()}>
              Stop upload
            </button>
          )}
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="submit-job">
            {busy ? 'Submitting…' : `Submit job${inputs.length ? ` (${plural(inputs.length, 'task')})` : ''}`}
          </button>
        </div>
      </form>
    </div>
  );
}

function FileListField(props: {
  id: string;
  label: string;
  hint: string;
  files: File[];
  disabled: boolean;
  testid: string;
  numbered?: boolean;
  onPick: (files: FileList | null) => void;
  onRemove: (file: File) => void;
  onClear: () => void;
}) {
  const [showAll, setShowAll] = useState(false);
  const { files } = props;
  const shown = showAll ? files : files.slice(0, PREVIEW);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {/* The browser's own picker would say "No file chosen" beside the listed files (its value is
          reset after each pick so the same files can be added again): a button says what it does. */}
      <span class="file-picker">
        <input
          id={props.id}
          type="file"
          multiple
          class="visually-hidden"
          disabled={props.disabled}
          data-testid={props.testid}
          onChange={(e) => {
            props.onPick(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
        <label for={props.id} class={`btn btn-small${props.disabled ? ' disabled' : ''}`} data-testid={`${props.testid}-button`}>
          {files.length === 0 ? 'Choose files…' : 'Add more files…'}
        </label>
        <span class="muted">{files.length === 0 ? 'none chosen' : plural(files.length, 'file') + ' chosen'}</span>
      </span>
      <span class="hint">{props.hint} Pick several times to add more.</span>
      {files.length > 0 && (
        <div class="file-list" data-testid={`${props.testid}-list`}>
          <div class="file-list-head">
            <span>
              {plural(files.length, 'file')} · {bytes(total)}
            </span>
            <button type="button" class="btn-link" disabled={props.disabled} onClick={props.onClear}>
              Clear
            </button>
          </div>
          <ol class="files">
            {shown.map((f, i) => (
              <li key={f.name}>
                {props.numbered && <span class="file-index mono">{i + 1}</span>}
                <span class="file-name mono">{f.name}</span>
                <span class="file-size">{bytes(f.size)}</span>
                <button type="button" class="btn-icon" aria-label={`Remove ${f.name}`} disabled={props.disabled} onClick={() => props.onRemove(f)}>
                  ×
                </button>
              </li>
            ))}
          </ol>
          {files.length > PREVIEW && (
            <button type="button" class="btn-link" onClick={() => setShowAll(!showAll)}>
              {showAll ? 'Show fewer' : `Show all ${num(files.length)}`}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
