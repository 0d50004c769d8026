import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { API_BASE, messageOf, type ImageFormat, type RenderJobSpec } from '../api.ts';
import { bytes, num, plural } from '../format.ts';
import { chunkFrames, FrameExpressionError, parseFrames } from '../frames.ts';
import { useDebounced, useDocumentTitle } from '../hooks.ts';
import { projectFromBlend, projectFromFolder, projectFromZip, isZipName, ProjectError, type BrowserProject } from '../project.ts';
import { uploadFiles } from '../upload.ts';
import type { BlendContents, BlendScene } from '../blend-read.ts';
import { FRAME_FORMATS } from '../frame-formats.ts';
import { JobForm, runRequest, useJobForm, type TimeoutRule } from './job-form.tsx';

const FORMATS: { value: ImageFormat | ''; label: string }[] = [
  { value: '', label: 'As saved' },
  { value: 'PNG', label: 'PNG' },
  { value: 'JPEG', label: 'JPEG' },
  { value: 'OPEN_EXR', label: 'OpenEXR' },
  { value: 'TIFF', label: 'TIFF' },
];
const SKIPPED_PREVIEW = 8;

/** Frames and tasks as the coordinator will cut them, or why the expression is refused. */
function planFrames(expression: string, chunkText: string): { frames: number; tasks: number } | { error: string } | null {
  if (!expression.trim()) return null;
  const chunk = Number(chunkText);
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 100_000) return { error: 'The chunk size must be a whole number from 1 to 100,000.' };
  try {
    const frames = parseFrames(expression);
    return { frames: frames.length, tasks: chunkFrames(frames, chunk).length };
  } catch (e) {
    if (e instanceof FrameExpressionError) return { error: e.message[0]!.toUpperCase() + e.message.slice(1) + '.' };
    throw e;
  }
}

/** The scene's own frame range as a frame expression. */
const sceneFrames = (s: BlendScene) => `${s.frameStart}-${s.frameEnd}${s.frameStep > 1 ? `:${s.frameStep}` : ''}`;

/** A positive whole number typed in an optional field: undefined when empty, null when invalid. */
function optionalInt(text: string, min: number, max: number): number | undefined | null {
  if (!text.trim()) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : null;
}

/** Whole seconds, at most a week, or none. */
const RENDER_TIMEOUT: TimeoutRule = {
  read: (text) => optionalInt(text, 1, 7 * 86400),
  problem: 'The task timeout must be a whole number of seconds, at most a week.',
};

export function NewRenderJob() {
  const [name, setName] = useState('');
  const [project, setProject] = useState<BrowserProject | null>(null);
  const [projectError, setProjectError] = useState<string | null>(null);
  const [blend, setBlend] = useState('');
  const [frames, setFrames] = useState('');
  const [chunk, setChunk] = useState('1');
  const [scene, setScene] = useState('');
  const [format, setFormat] = useState<ImageFormat | ''>('');
  const [samples, setSamples] = useState('');
  const [width, setWidth] = useState('');
  const [height, setHeight] = useState('');
  const form = useJobForm();
  const { busy, setError } = form;
  useDocumentTitle('New render job');

  // A million-frame expression takes a moment to cut: do it once typing pauses.
  const typedFrames = useDebounced(frames, 120);
  const typedChunk = useDebounced(chunk, 120);
  const plan = useMemo(() => planFrames(typedFrames, typedChunk), [typedFrames, typedChunk]);
  const projectBytes = useMemo(() => project?.files.reduce((sum, f) => sum + f.size, 0) ?? 0, [project]);
  const defaultName = blend ? blend.split('/').pop()!.replace(/\.blend$/i, '') : '';

  // ---- the chosen .blend's own settings, read here: they fill the frames and show what "as saved" is
  const [sceneRead, setSceneRead] = useState<{ blend: string; contents?: BlendContents; error?: string } | null>(null);
  useEffect(() => {
    const file = blend ? project?.files.find((f) => f.path === blend) : undefined;
    if (!file) return setSceneRead(null);
    let current = true;
    setSceneRead({ blend });
    void (async () => {
      try {
        // loaded on first use: the reader and its zstd decoder stay out of the app's first load
        const { readBlendSettings } = await import('../blend-read.ts');
        const contents = await readBlendSettings(await file.open());
        if (current) setSceneRead({ blend, contents });
      } catch (e) {
        if (current) setSceneRead({ blend, error: messageOf(e) });
      }
    })();
    return () => {
      current = false;
    };
  }, [project, blend]);
  const contents = sceneRead?.blend === blend ? sceneRead.contents : undefined;
  const sceneName = scene.trim();
  const fromScene = contents ? (sceneName ? (contents.scenes.find((s) => s.name === sceneName) ?? null) : contents.active) : null;
  // The frames the form filled in: replaced when another .blend or scene is chosen, never what was typed.
  const filledFrames = useRef<string | null>(null);
  useEffect(() => {
    if (!fromScene) return;
    const expression = sceneFrames(fromScene);
    const previous = filledFrames.current;
    filledFrames.current = expression;
    setFrames((typed) => (typed.trim() === '' || typed === previous ? expression : typed));
  }, [fromScene]);
  const movie = !!fromScene && !FRAME_FORMATS.has(fromScene.fileFormat);

  const pickProject = async (kind: 'file' | 'folder', list: FileList | null) => {
    setProjectError(null);
    setError(null);
    const chosen = Array.from(list ?? []);
    if (chosen.length === 0) return;
    try {
      let next: BrowserProject;
      if (kind === 'folder') next = projectFromFolder(chosen);
      else if (isZipName(chosen[0]!.name)) next = await projectFromZip(chosen[0]!);
      else next = projectFromBlend(chosen[0]!);
      setProject(next);
      // exactly one .blend: chosen; several: the user picks one
      setBlend(next.blends.length === 1 ? next.blends[0]! : '');
    } catch (e) {
      setProject(null);
      setBlend('');
      setProjectError(e instanceof ProjectError ? e.message : `Cannot read ${chosen[0]!.name}: ${messageOf(e)}`);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!project) return setError('Choose the project: a .blend file, a folder or a .zip.');
    if (!blend) return setError(`The project holds ${project.blends.length} .blend files: choose the one to render.`);
    if (!frames.trim()) return setError('Give the frames to render, e.g. 1-250.');
    const planned = planFrames(frames, chunk);
    if (!planned || 'error' in planned) return setError(planned?.error ?? 'Give the frames to render.');
    const samplesValue = optionalInt(samples, 1, 1_000_000);
    if (samplesValue === null) return setError('Samples must be a whole number of at least 1.');
    const w = optionalInt(width, 4, 65_536);
    const h = optionalInt(height, 4, 65_536);
    if (w === null || h === null) return setError('The resolution must be whole numbers from 4 to 65,536 pixels.');
    if ((w === undefined) !== (h === undefined)) return setError('Give both the width and the height, or neither.');
    const run = runRequest(form.run, RENDER_TIMEOUT);
    if ('problem' in run) return setError(run.problem);

    await form.submitJob(async (signal) => {
      // zips are unpacked entry by entry here; picked files are used as they are
      const blobs: Blob[] = [];
      if (project.kind === 'zip') form.setPhase({ step: 'unpacking', done: 0, total: project.files.length });
      for (const file of project.files) {
        if (signal.aborted) throw new DOMException('canceled', 'AbortError');
        blobs.push(await file.open());
        if (project.kind === 'zip') form.setPhase({ step: 'unpacking', done: blobs.length, total: project.files.length });
      }
      const hashes = await uploadFiles(blobs, form.setPhase, signal);

      const spec: RenderJobSpec = {
        kind: 'render',
        name: name.trim() || defaultName,
        project: { files: project.files.map((f, i) => ({ path: f.path, sha256: hashes.get(blobs[i]!)! })), blend },
        frames: frames.trim(),
        chunk: Number(chunk),
        ...run.fields,
      };
      if (scene.trim()) spec.scene = scene.trim();
      if (format) spec.format = format;
      else if (movie) spec.format = 'PNG'; // a movie format: frames come out as PNG, as the CLI does
      if (fromScene) {
        // only what reads as sane: these are shown to people, a strange value is left out
        const r = fromScene.resolution;
        const whole = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
        spec.sceneSettings = {
          format: fromScene.fileFormat,
          ...(whole(r.x, 1_000_000) && whole(r.y, 1_000_000) ? { resolution: { width: r.x, height: r.y } } : {}),
          ...(whole(r.percentage, 32_767) ? { percentage: r.percentage } : {}),
          ...(fromScene.samples && whole(fromScene.samples, 100_000_000) ? { samples: fromScene.samples } : {}),
        };
      }
      if (samplesValue !== undefined) spec.samples = samplesValue;
      if (w !== undefined && h !== undefined) spec.resolution = { width: w, height: h };
      return spec;
    });
  };

  const tasks = plan && !('error' in plan) ? plan.tasks : 0;
  return (
    <JobForm
      kind="render"
      sub="A render job: Blender renders the frames of a .blend, a chunk of frames per task."
      headerActions={
        // The same zip as `drover blender-addon`: artists submit from Blender's Output Properties.
        <a class="btn btn-ghost" href={`${API_BASE}downloads/blender-addon.zip`} download="drover_blender.zip" data-testid="blender-addon-download" title="Install in Blender: Edit › Preferences › Add-ons › Install">
          Blender add-on
        </a>
      }
      formTestId="new-render-form"
      state={form}
      onSubmit={submit}
      title={{ value: name, onInput: setName, placeholder: defaultName || 'e.g. Shot 042 lighting' }}
      summary={{
        tasks,
        details: (
          <>
            <span data-testid="frame-count">{plural(plan && !('error' in plan) ? plan.frames : 0, 'frame')}</span>
            <span class="muted">·</span>
          </>
        ),
        bytes: projectBytes,
        files: project?.files.length ?? 0,
      }}
      submitNoun="render"
    >
      <div class="field">
        <span class="field-title">Project</span>
        <div class="project-pickers">
          <label class="picker">
            <span>A .blend file or a .zip</span>
            <input
              type="file"
              accept=".blend,.zip,application/zip"
              disabled={busy}
              data-testid="project-file-input"
              onChange={(e) => {
                void pickProject('file', e.currentTarget.files);
                e.currentTarget.value = '';
              }}
            />
          </label>
          <span class="muted picker-or">or</span>
          <label class="picker">
            <span>A project folder</span>
            <input
              type="file"
              // @ts-expect-error: webkitdirectory is not in the DOM typings, every browser knows it
              webkitdirectory={true}
              multiple
              disabled={busy}
              data-testid="project-folder-input"
              onChange={(e) => {
                void pickProject('folder', e.currentTarget.files);
                e.currentTarget.value = '';
              }}
            />
          </label>
        </div>
        <span class="hint">A folder or zip carries the textures and caches the .blend uses through relative paths (//textures/…).</span>
        {projectError && (
          <div class="banner banner-error" role="alert" data-testid="project-error">
            <span>{projectError}</span>
          </div>
        )}
        {project && (
          <ProjectSummary
            project={project}
            bytes={projectBytes}
            blend={blend}
            busy={busy}
            onBlend={(b) => {
              setBlend(b);
              setError(null);
            }}
          />
        )}
      </div>

      <div class="grid-3">
        <label class="field span-xs">
          <span>Frames</span>
          <input
            name="frames"
            required
            placeholder="e.g. 1-250, 1-250:5, 1,5,10-20"
            value={frames}
            disabled={busy}
            aria-invalid={plan !== null && 'error' in plan}
            onInput={(e) => setFrames(e.currentTarget.value)}
            data-testid="frames-input"
          />
        </label>
        <label class="field">
          <span>Chunk size</span>
          <input type="number" name="chunk" min={1} max={100000} value={chunk} disabled={busy} onInput={(e) => setChunk(e.currentTarget.value)} data-testid="chunk-input" />
        </label>
        <label class="field">
          <span>Scene</span>
          <input name="scene" placeholder="the file's active scene" value={scene} disabled={busy} onInput={(e) => setScene(e.currentTarget.value)} />
        </label>
      </div>
      {plan && 'error' in plan ? (
        <div class="hint err-text" data-testid="frames-error">
          {plan.error}
        </div>
      ) : (
        <SceneHint read={sceneRead?.blend === blend ? sceneRead : null} scene={fromScene} sceneName={sceneName} movie={movie} />
      )}

      <div class="grid-3">
        <label class="field">
          <span>Format</span>
          <select name="format" value={format} disabled={busy} onChange={(e) => setFormat(e.currentTarget.value as ImageFormat | '')} data-testid="format-select">
            {FORMATS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.value === '' && fromScene ? (movie ? `PNG (the scene writes ${fromScene.fileFormat}, a movie)` : `As saved (${fromScene.fileFormat})`) : f.label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Samples</span>
          <input type="number" name="samples" min={1} placeholder={fromScene?.samples ? `${fromScene.samples} (scene)` : 'as saved'} value={samples} disabled={busy} onInput={(e) => setSamples(e.currentTarget.value)} />
        </label>
        <div class="field span-xs">
          <span>Resolution</span>
          <div class="resolution">
            <input type="number" name="width" min={4} placeholder={fromScene ? String(fromScene.resolution.x) : 'width'} aria-label="Width" value={width} disabled={busy} onInput={(e) => setWidth(e.currentTarget.value)} />
            <span class="muted">×</span>
            <input type="number" name="height" min={4} placeholder={fromScene ? String(fromScene.resolution.y) : 'height'} aria-label="Height" value={height} disabled={busy} onInput={(e) => setHeight(e.currentTarget.value)} />
          </div>
        </div>
      </div>
    </JobForm>
  );
}

/** What the form read from the .blend, or why it asks for the frames. */
function SceneHint(props: { read: { contents?: BlendContents; error?: string } | null; scene: BlendScene | null; sceneName: string; movie: boolean }) {
  const { read, scene } = props;
  const chunkText = 'Frames per task: the chunk size; each task starts Blender once.';
  let text: string;
  if (!read) text = `The frame range fills in from the .blend once the project is chosen. ${chunkText}`;
  else if (read.error) text = `Could not read the scene's settings in the browser (${read.error}): give the frames. ${chunkText}`;
  else if (!read.contents) text = 'Reading the scene’s settings…';
  else if (!scene) text = `The .blend has no scene "${props.sceneName}" (it has ${read.contents.scenes.map((s) => s.name).join(', ')}): give the frames.`;
  else {
    const r = scene.resolution;
    text =
      `From scene “${scene.name}”: frames ${sceneFrames(scene)} at ${scene.fps} fps, ${r.x} × ${r.y}${r.percentage !== 100 ? ` at ${r.percentage}%` : ''}, ` +
      `${scene.fileFormat}${props.movie ? ' (a movie: frames come out as PNG)' : ''}, ${scene.engine}${scene.samples ? ` ${scene.samples} samples` : ''}. ${chunkText}`;
  }
  return (
    <span class="hint" data-testid="scene-hint" data-state={!read ? 'none' : read.error ? 'failed' : read.contents ? 'read' : 'reading'}>
      {text}
    </span>
  );
}

function ProjectSummary(props: { project: BrowserProject; bytes: number; blend: string; busy: boolean; onBlend: (blend: string) => void }) {
  const { project } = props;
  const [showSkipped, setShowSkipped] = useState(false);
  const skipped = showSkipped ? project.skipped : project.skipped.slice(0, SKIPPED_PREVIEW);
  return (
    <div class="file-list project" data-testid="project-summary" data-kind={project.kind}>
      <div class="file-list-head">
        <span>
          <span class="mono">{project.source}</span> · {plural(project.files.length, 'file')} · {bytes(props.bytes)}
        </span>
      </div>
      {project.blends.length > 1 ? (
        <label class="field blend-choice">
          <span>{num(project.blends.length)} .blend files: which one to render?</span>
          <select value={props.blend} disabled={props.busy} onChange={(e) => props.onBlend(e.currentTarget.value)} data-testid="blend-select">
            <option value="">Choose a .blend file…</option>
            {project.blends.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <div class="blend-choice">
          Renders <span class="mono" data-testid="blend-chosen">{props.blend}</span>
        </div>
      )}
      {project.skipped.length > 0 && (
        <div class="skipped hint" data-testid="project-skipped">
          Left out: {skipped.map((s) => `${s.path} (${s.reason})`).join(', ')}
          {project.skipped.length > SKIPPED_PREVIEW && (
            <>
              {' '}
              <button type="button" class="btn-link" onClick={() => setShowSkipped(!showSkipped)}>
                {showSkipped ? 'fewer' : `and ${num(project.skipped.length - SKIPPED_PREVIEW)} more`}
              </button>
            </>
          )}
        </div>
      )}
    </div>
  );
}
