// New job from an Open Job Description template: the template file is read and checked in the
// browser, a form is made from its parameterDefinitions (honouring their userInterface hints), the
// files of IN/INOUT PATH parameters are uploaded content-addressed, and the job is created.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { messageOf, type InstanceType } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { num, plural } from '../format.ts';
import { useDocumentTitle } from '../hooks.ts';
import type { JobParameterDefinition, ReadTemplate } from '../template-document.ts';
import { uploadFiles, type UploadPhase } from '../upload.ts';
import { JobKindSwitch, SizePicker, UploadProgress, submitJobWith } from './job-form.tsx';
import { SchedulingFields, emptyScheduling, schedulingRequest } from '../SchedulingFields.tsx';

type Lib = typeof import('../template-document.ts');
type Value = string | boolean;

/** The control a parameter gets: its userInterface hint, else the spec's default for its type. */
function controlOf(def: JobParameterDefinition): string {
  const hint = def.userInterface?.control;
  if (hint) return hint;
  if (def.allowedValues) return 'DROPDOWN_LIST';
  if (def.type === 'INT' || def.type === 'FLOAT') return 'SPIN_BOX';
  if (def.type === 'PATH') {
    if (def.objectType === 'FILE') return def.dataFlow === 'OUT' ? 'CHOOSE_OUTPUT_FILE' : 'CHOOSE_INPUT_FILE';
    return 'CHOOSE_DIRECTORY';
  }
  return 'LINE_EDIT';
}

/** Whether a parameter's value is files picked here (uploaded), not text. */
const takesFiles = (def: JobParameterDefinition): def is Extract<JobParameterDefinition, { type: 'PATH' }> => def.type === 'PATH' && (def.dataFlow === 'IN' || def.dataFlow === 'INOUT');

/** A CHECK_BOX's two values, true first (["True", "False"], ["yes", "no"], …). */
function checkPair(def: JobParameterDefinition): [string, string] {
  const values = (def.allowedValues ?? ['true', 'false']).map(String);
  const truthy = values.find((v) => ['true', 'yes', 'on', '1'].includes(v.toLowerCase())) ?? values[0]!;
  return [truthy, values.find((v) => v !== truthy) ?? 'false'];
}

export function NewTemplateJob() {
  const [lib, setLib] = useState<Lib | null>(null);
  const [read, setRead] = useState<(ReadTemplate & { file: string }) | null>(null);
  const [values, setValues] = useState<Record<string, Value>>({});
  const [files, setFiles] = useState<Record<string, File[]>>({});
  const [size, setSize] = useState<InstanceType>('s');
  const [start, setStart] = useState(true);
  const [scheduling, setScheduling] = useState(emptyScheduling);
  const [phase, setPhase] = useState<UploadPhase>({ step: 'idle' });
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  useDocumentTitle('New template job');
  useEffect(() => {
    void import('../template-document.ts').then(setLib, (e) => setError(messageOf(e)));
  }, []);
  const busy = phase.step !== 'idle';
  const defs = useMemo(() => read?.template.parameterDefinitions ?? [], [read]);
  // A file picked before the checker has loaded is read once it has.
  const [picked, setPicked] = useState<File | null>(null);
  useEffect(() => {
    if (picked && lib) void pick(picked, lib);
  }, [picked, lib]);

  const pick = async (file: File, lib: Lib) => {
    setError(null);
    setRead(null);
    try {
      const r = lib.readTemplate(file.name, await file.text());
      setRead({ ...r, file: file.name });
      const initial: Record<string, Value> = {};
      for (const d of r.template.parameterDefinitions ?? []) {
        if (takesFiles(d)) continue;
        if (controlOf(d) === 'CHECK_BOX') initial[d.name] = String(d.default ?? '') === checkPair(d)[0];
        else initial[d.name] = d.default === undefined ? '' : String(d.default);
      }
      setValues(initial);
      setFiles({});
    } catch (e) {
      setError(messageOf(e));
    }
  };

  /** What is sent as parameter values: checkboxes as their allowed values, files by their name. */
  const parameters = useMemo(() => {
    const out: Record<string, string> = {};
    for (const d of defs) {
      const v = values[d.name];
      if (takesFiles(d)) {
        const picked = files[d.name] ?? [];
        const first = picked[0];
        if (first) out[d.name] = d.objectType === 'FILE' ? first.name : (first.webkitRelativePath.split('/')[0] || d.name);
        else if (d.default !== undefined) out[d.name] = String(d.default);
        continue;
      }
      if (controlOf(d) === 'CHECK_BOX') out[d.name] = checkPair(d)[v ? 0 : 1];
      else if (typeof v === 'string' && (v !== '' || d.default === undefined)) out[d.name] = v;
    }
    return out;
  }, [defs, values, files]);
  const preview = useMemo(() => (read && lib ? lib.previewJob(read.template, parameters) : null), [read, lib, parameters]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!read) return setError('Choose a job template file (.yaml, .yml or .json).');
    const missing = defs.filter((d) => takesFiles(d) && d.dataFlow === 'IN' && !(files[d.name]?.length));
    if (missing.length > 0) return setError(`Choose the files of ${missing.map((d) => d.userInterface?.label ?? d.name).join(', ')}.`);
    if (preview && 'problem' in preview) return setError(preview.problem);
    const scheduled = schedulingRequest(scheduling);
    if ('problem' in scheduled) return setError(scheduled.problem);
    await submitJobWith({ abort, setPhase, setError }, async (signal) => {
      const all = Object.values(files).flat();
      const hashes = all.length > 0 ? await uploadFiles(all, setPhase, signal) : new Map<File, string>();
      const sent: Record<string, { path: string; sha256: string }[]> = {};
      for (const d of defs) {
        if (!takesFiles(d)) continue;
        // A folder's files keep their place inside it; a single file is the parameter's file.
        sent[d.name] = (files[d.name] ?? []).map((f) => ({ path: f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name, sha256: hashes.get(f)! }));
      }
      return { kind: 'template', template: read.doc, parameters, files: sent, instanceType: size, start, ...scheduled.fields };
    });
  };

  const groups = new Map<string, JobParameterDefinition[]>();
  for (const d of defs) {
    if (controlOf(d) === 'HIDDEN') continue;
    const g = d.userInterface?.groupLabel ?? '';
    groups.set(g, [...(groups.get(g) ?? []), d]);
  }

  return (
    <div class="page page-narrow" data-testid="new-template-page">
      <PageHeader title="New job" sub="An Open Job Description job template: steps, their parameters and what they wait for." />
      <JobKindSwitch kind="template" disabled={busy} />
      <form class="form panel" onSubmit={submit} data-testid="new-template-form" noValidate>
        <ErrorBanner error={error} onDismiss={() => setError(null)} />
        <div class="field">
          <label for="template-file">Job template</label>
          <input id="template-file" type="file" accept=".yaml,.yml,.json" disabled={busy} data-testid="template-input" onChange={(e) => setPicked(e.currentTarget.files?.[0] ?? null)} />
          <span class="hint">A jobtemplate-2023-09 file (YAML or JSON), as Deadline Cloud job bundles hold.</span>
        </div>
        {read && (
          <p class="muted" data-testid="template-summary">
            {read.template.description ?? `${read.file}: ${plural(read.template.steps.length, 'step')}`}
          </p>
        )}
        {[...groups].map(([group, list]) => {
          const fields = list.map((d) => <ParameterField key={d.name} def={d} value={values[d.name]} files={files[d.name] ?? []} disabled={busy} onValue={(v) => setValues((cur) => ({ ...cur, [d.name]: v }))} onFiles={(f) => setFiles((cur) => ({ ...cur, [d.name]: f }))} />);
          return group ? (
            <fieldset class="field" key={group}>
              <legend>{group}</legend>
              {fields}
            </fieldset>
          ) : (
            fields
          );
        })}
        {preview && (
          <div class={`hint${'problem' in preview ? ' error-text' : ''}`} data-testid="template-preview" role="status">
            {'problem' in preview
              ? preview.problem
              : `“${preview.name}”: ${plural(preview.tasks, 'task')} in ${preview.steps.map((s) => `${s.name} (${num(s.tasks)}${s.after.length ? `, after ${s.after.join(', ')}` : ''})`).join(', ')}`}
          </div>
        )}
        <SizePicker size={size} disabled={busy} onChange={setSize} />
        <SchedulingFields value={scheduling} disabled={busy} onChange={setScheduling} />
        <label class="check">
          <input type="checkbox" checked={start} disabled={busy} onChange={(e) => setStart(e.currentTarget.checked)} /> Start at once
        </label>
        <UploadProgress phase={phase} />
        <div class="actions">
          {busy ? (
            <button type="button" class="btn" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          ) : (
            <button type="submit" class="btn btn-primary" data-testid="submit-template">
              Submit job
            </button>
          )}
        </div>
      </form>
    </div>
  );
}

function ParameterField({ def, value, files, disabled, onValue, onFiles }: { def: JobParameterDefinition; value: Value | undefined; files: File[]; disabled: boolean; onValue: (v: Value) => void; onFiles: (f: File[]) => void }) {
  const label = def.userInterface?.label ?? def.name;
  const control = controlOf(def);
  const id = `param-${def.name}`;
  const hint = def.description ? <span class="hint">{def.description}</span> : null;
  const text = typeof value === 'string' ? value : '';
  const common = { id, name: def.name, disabled, 'data-testid': id };
  let input;
  if (takesFiles(def)) {
    const dir = def.objectType !== 'FILE';
    input = (
      <>
        <input {...common} type="file" {...(dir ? { webkitdirectory: true, multiple: true } : {})} onChange={(e) => onFiles(Array.from(e.currentTarget.files ?? []))} />
        {files.length > 0 && <span class="hint">{dir ? `${plural(files.length, 'file')} chosen` : files[0]!.name}</span>}
      </>
    );
  } else if (control === 'CHECK_BOX') {
    return (
      <label class="check">
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => onValue(e.currentTarget.checked)} /> {label}
        {hint}
      </label>
    );
  } else if (control === 'DROPDOWN_LIST' && def.allowedValues) {
    input = (
      <select {...common} value={text} onChange={(e) => onValue(e.currentTarget.value)}>
        {text === '' && <option value="">Choose…</option>}
        {def.allowedValues.map((v) => (
          <option key={String(v)} value={String(v)}>
            {String(v)}
          </option>
        ))}
      </select>
    );
  } else if (control === 'MULTILINE_EDIT') {
    input = <textarea {...common} rows={5} class="mono" value={text} onInput={(e) => onValue(e.currentTarget.value)} />;
  } else if (control === 'SPIN_BOX' && (def.type === 'INT' || def.type === 'FLOAT')) {
    const step = (def.userInterface as { singleStepDelta?: number } | undefined)?.singleStepDelta;
    input = (
      <input
        {...common}
        type="number"
        step={step ?? (def.type === 'INT' ? 1 : 'any')}
        {...(def.minValue !== undefined ? { min: Number(def.minValue) } : {})}
        {...(def.maxValue !== undefined ? { max: Number(def.maxValue) } : {})}
        value={text}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
    );
  } else {
    input = <input {...common} type="text" value={text} onInput={(e) => onValue(e.currentTarget.value)} />;
  }
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {input}
      {hint}
    </div>
  );
}
