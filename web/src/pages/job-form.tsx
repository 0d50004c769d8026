// Pieces shared by the script-job and render-job forms: the kind switch, instance sizes, upload progress.
import type { InstanceType } from '../api.ts';
import { bytes, num, plural } from '../format.ts';
import { href } from '../router.ts';
import type { UploadPhase } from '../upload.ts';

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
