import { useMemo, useState } from 'preact/hooks';
import type { FileRef, ScriptJobSpec } from '../api.ts';
import { reveal } from '../components.tsx';
import { bytes, compareNatural, num, plural } from '../format.ts';
// The coordinator's own checks: script, constants and each input share one directory.
import { sharedNameClashes } from '../../../src/core/inputs.ts';
import { useDocumentTitle } from '../hooks.ts';
import { uploadFiles } from '../upload.ts';
import { JobForm, runRequest, useJobForm, type TimeoutRule } from './job-form.tsx';
import { NewRenderJob } from './NewRenderJob.tsx';
import { NewTemplateJob } from './NewTemplateJob.tsx';

const PREVIEW = 12;

/** Any positive number of seconds, or none. */
const SCRIPT_TIMEOUT: TimeoutRule = {
  read: (text) => {
    if (!text.trim()) return undefined;
    const seconds = Number(text);
    return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
  },
  problem: 'The task timeout must be a positive number of seconds.',
};

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
  const form = useJobForm();
  const { busy, setError } = form;
  useDocumentTitle('New job');

  const problem = useMemo(() => sharedNameClashes(script, constants, inputs), [script, constants, inputs]);
  const totalBytes = useMemo(
    () => (script?.size ?? 0) + [...inputs, ...constants].reduce((sum, f) => sum + f.size, 0),
    [script, inputs, constants],
  );

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Give the job a title.');
    if (!script) return setError('Choose the script file.');
    if (inputs.length === 0) return setError('Choose at least one data file: each one becomes a task.');
    // The clash is already shown (once) above the summary: bring it into view.
    if (problem) return reveal(document.querySelector('[data-testid="name-clash"]'));
    const run = runRequest(form.run, SCRIPT_TIMEOUT);
    if ('problem' in run) return setError(run.problem);

    await form.submitJob(async (signal) => {
      const hashes = await uploadFiles([script, ...constants, ...inputs], form.setPhase, signal);
      const ref = (f: File): FileRef => ({ name: f.name, sha256: hashes.get(f)! });
      const spec: ScriptJobSpec = { kind: 'script', name: name.trim(), script: ref(script), inputs: inputs.map(ref), ...run.fields };
      if (constants.length > 0) spec.constants = constants.map(ref);
      return spec;
    });
  };

  return (
    <JobForm
      kind="script"
      sub="A script job: the script runs once per data file, each run is one task."
      formTestId="new-job-form"
      state={form}
      onSubmit={submit}
      title={{ value: name, onInput: setName, placeholder: 'e.g. Shot 042 denoise', required: true }}
      withImage
      notice={
        problem && (
          <div class="banner banner-warn" role="alert" tabIndex={-1} data-testid="name-clash">
            {problem}
          </div>
        )
      }
      summary={{ tasks: inputs.length, bytes: totalBytes, files: (script ? 1 : 0) + inputs.length + constants.length }}
      submitNoun="job"
    >
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
    </JobForm>
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
