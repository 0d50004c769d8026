// The render part of a job page: the latest (or a chosen) frame large, the preview video, the
// render settings, and a paged grid of frame thumbnails that fills in as frames finish.
import { memo } from 'preact/compat';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, apiUrl, isAbort, messageOf, query, type Frame, type FramePage, type Job, type RenderInfo, type SceneSettingsSeen } from '../api.ts';
import { ErrorBanner, Pager, StatusBadge } from '../components.tsx';
import { dateTime, duration, fullDateTime, num } from '../format.ts';

/** Frames per page of the grid: a page of thumbnails stays light even for 10,000-frame jobs. */
export const FRAME_PAGE = 500;
/** At most one refetch of the frame page per this many ms while frames pour in. */
const REFETCH_MS = 1000;

/** The width of the preview images the agents make (src/render/thumbnails.ts). */
const PREVIEW_WIDTH = 1280;

/** The rendered frames' width as the job or the .blend says it, or null when nobody said. */
function frameWidth(render: RenderInfo): number | null {
  const resolution = render.resolution ?? render.sceneSettings?.resolution;
  if (!resolution) return null;
  const percentage = render.percentage ?? render.sceneSettings?.percentage ?? 100;
  return Math.floor((resolution.width * percentage) / 100);
}

/** Frames a browser can show at full size (EXR, TIFF… are shown through their preview). */
const browserShows = (path: string | null) => !!path && /\.(png|jpe?g|webp|gif|bmp)$/i.test(path);

const frameUrl = (jobId: string, frame: number, variant: 'thumbnail' | 'preview' | 'image') =>
  apiUrl(`jobs/${encodeURIComponent(jobId)}/frames/${frame}/${variant}`);

interface Props {
  job: Job & { render: RenderInfo };
  /** The frame shown large, or null to follow the latest frame. */
  selected: number | null;
  offset: number;
  onSelect: (frame: number | null) => void;
  onOffset: (offset: number) => void;
}

export function RenderPanel({ job, selected, offset, onSelect, onOffset }: Props) {
  const render = job.render;
  const saved = render.sceneSettings;
  const [page, setPage] = useState<FramePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Tiles take the frames' shape: the job's resolution, else the first thumbnail's.
  const [aspect, setAspect] = useState<number | null>(() => {
    const r = render.resolution ?? render.sceneSettings?.resolution;
    return r ? r.width / r.height : null;
  });

  // ---- the frame page, refetched (throttled) whenever the job's frames or tasks move
  const signature = [render.framesDone, job.status, job.counts.running, job.counts.queued, job.counts.error, job.counts.canceled].join('|');
  const state = useRef({ running: false, dirty: false, last: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined, controller: null as AbortController | null });
  const pageRef = useRef(page);
  pageRef.current = page;
  const scheduleRef = useRef<() => void>(() => {});
  const learnAspect = useCallback((w: number, h: number) => {
    if (w > 0 && h > 0) setAspect((a) => a ?? w / h);
  }, []);

  useEffect(() => {
    const s = state.current;
    let stopped = false;
    const load = async () => {
      s.timer = undefined;
      if (s.running) {
        s.dirty = true;
        return;
      }
      s.running = true;
      s.dirty = false;
      s.last = Date.now();
      const controller = new AbortController();
      s.controller = controller;
      try {
        const next = await api<FramePage>(`jobs/${encodeURIComponent(job.id)}/frames${query({ offset, limit: FRAME_PAGE })}`, { signal: controller.signal });
        if (!stopped) {
          setPage(next);
          setError(null);
        }
      } catch (e) {
        if (!isAbort(e) && !stopped) setError(e instanceof ApiError ? e.message : messageOf(e));
      } finally {
        s.running = false;
        if (s.dirty && !stopped) schedule();
      }
    };
    const schedule = () => {
      if (s.timer !== undefined) return;
      s.timer = setTimeout(() => void load(), Math.max(0, s.last + REFETCH_MS - Date.now()));
    };
    scheduleRef.current = schedule;
    void load();
    return () => {
      stopped = true;
      clearTimeout(s.timer);
      s.timer = undefined;
      s.controller?.abort();
      s.running = false;
    };
  }, [job.id, offset]);

  const firstSignature = useRef(signature);
  useEffect(() => {
    if (firstSignature.current === signature) return; // the page was just loaded
    firstSignature.current = signature;
    // Nothing on a page of finished frames can change any more.
    const current = pageRef.current;
    if (current && current.frames.length > 0 && current.frames.every((f) => f.status === 'done') && current.total === render.frameCount) return;
    scheduleRef.current();
  }, [signature, render.frameCount]);

  const last = render.lastFrame;
  const shown = selected ?? last?.frame ?? null;
  const shownFrame = shown === null ? undefined : page?.frames.find((f) => f.frame === shown);
  // The job's own last frame is newer than the (throttled) frame page: it is done whatever the
  // page still says, so following the latest never shows a finished frame as "running".
  const shownIsLast = shown !== null && last?.frame === shown;
  const shownDone = shownIsLast || shownFrame?.status === 'done';
  const meta = shownIsLast ? { renderMs: last!.renderMs, finishedAt: last!.finishedAt, path: last!.path } : shownFrame;
  const [zoomed, setZoomed] = useState(false);
  // The stage's width in device pixels: past the preview's width, the full frame is sharper.
  const stageRef = useRef<HTMLDivElement>(null);
  const [stagePixels, setStagePixels] = useState(0);
  useEffect(() => {
    const stage = stageRef.current;
    if (!stage) return;
    const measure = () => setStagePixels(Math.round(stage.clientWidth * (window.devicePixelRatio || 1)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(stage);
    return () => observer.disconnect();
  }, []);
  const width = frameWidth(render);
  const showable = browserShows(meta?.path ?? null);
  const fullSize = showable && (zoomed || (width !== null && width > PREVIEW_WIDTH && stagePixels > PREVIEW_WIDTH));

  // ---- keyboard: ← → step through the finished frames of this page, Z zooms to 1:1
  const keys = useRef({ page, shown, onSelect, setZoomed });
  keys.current = { page, shown, onSelect, setZoomed };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target as HTMLElement | null;
      if (target?.closest('input, textarea, select, [contenteditable], [role="dialog"]') || document.querySelector('[role="dialog"]')) return;
      const k = keys.current;
      if (e.key === 'z' || e.key === 'Z') {
        e.preventDefault();
        k.setZoomed((z) => !z);
        return;
      }
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const done = (k.page?.frames ?? []).filter((f) => f.status === 'done' || f.frame === k.shown);
      if (done.length === 0) return;
      e.preventDefault();
      const at = done.findIndex((f) => f.frame === k.shown);
      const next = at === -1 ? (e.key === 'ArrowLeft' ? done.length - 1 : 0) : Math.min(done.length - 1, Math.max(0, at + (e.key === 'ArrowLeft' ? -1 : 1)));
      k.onSelect(done[next]!.frame);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <>
      <section class="render-top" aria-label="Render">
        <div class="panel viewer" data-testid="frame-viewer" data-frame={shown ?? ''} data-zoom={zoomed ? '1:1' : 'fit'}>
          <div class="viewer-head">
            <h2>
              {selected === null ? 'Latest frame' : 'Frame'}
              {shown !== null && (
                <span class="viewer-frame mono" data-testid="viewer-frame">
                  {' '}
                  {shown}
                </span>
              )}
            </h2>
            <div class="viewer-actions">
              {selected !== null && (
                <button type="button" class="btn btn-small" onClick={() => onSelect(null)} data-testid="follow-latest">
                  Follow latest
                </button>
              )}
              {shown !== null && shownDone && (
                <>
                  <button
                    type="button"
                    class={`btn btn-small${zoomed ? ' active' : ''}`}
                    aria-pressed={zoomed}
                    title="Actual pixels (Z); ← → step through the finished frames"
                    onClick={() => setZoomed(!zoomed)}
                    data-testid="viewer-zoom"
                  >
                    {zoomed ? 'Fit' : '1:1'}
                  </button>
                  <a class="btn btn-small" href={frameUrl(job.id, shown, 'image')} target="_blank" rel="noopener" data-testid="full-image">
                    Full image ↗
                  </a>
                </>
              )}
            </div>
          </div>
          <div
            class={`viewer-stage${zoomed ? ' zoomed' : ''}`}
            style={aspect ? { aspectRatio: String(aspect) } : undefined}
            ref={stageRef}
            data-testid="viewer-stage"
            data-variant={fullSize ? 'image' : 'preview'}
          >
            {shown === null ? (
              <div class="viewer-empty">{job.status === 'created' ? 'Not started yet.' : 'No frame finished yet.'}</div>
            ) : !shownDone && shownFrame ? (
              <div class="viewer-empty">
                Frame {shown} is <StatusBadge status={shownFrame.status} />
              </div>
            ) : (
              <SmoothImage src={frameUrl(job.id, shown, fullSize ? 'image' : 'preview')} alt={`Frame ${shown}`} testid="viewer-image" onSize={learnAspect} />
            )}
          </div>
          <div class="viewer-meta">
            {shownDone && meta ? (
              <>
                <span>rendered in {duration(meta.renderMs)}</span>
                <span title={fullDateTime(meta.finishedAt)}>at {dateTime(meta.finishedAt)}</span>
                {shownFrame && <span>task {shownFrame.taskIndex}</span>}
                {zoomed && !showable && <span class="muted">1:1 of the preview: the browser cannot show this format</span>}
              </>
            ) : (
              <span>&nbsp;</span>
            )}
          </div>
        </div>

        <div class="render-side">
          <section class="panel" data-testid="render-settings">
            <h2>Render settings</h2>
            <dl class="kv kv-render">
              <Setting label="Frames" value={`${render.frames} (${num(render.frameCount)})`} testid="setting-frames" />
              <Setting label="Chunk" value={`${num(render.chunk)} ${render.chunk === 1 ? 'frame' : 'frames'} per task`} />
              <Setting label="Blend file" value={render.blend} testid="setting-blend" />
              <Setting label="Scene" value={render.scene ?? 'active scene'} muted={!render.scene} />
              <Setting label="Format" {...settingOf(render.format, saved?.format)} testid="setting-format" />
              <Setting label="Samples" {...settingOf(render.samples === null ? null : num(render.samples), saved?.samples === undefined ? undefined : num(saved.samples))} testid="setting-samples" />
              <Setting label="Resolution" {...settingOf(resolutionText(render.resolution, render.percentage), savedResolution(saved))} testid="setting-resolution" />
              <Setting label="Video fps" value={String(render.fps)} />
            </dl>
          </section>
          <PreviewVideo job={job} />
        </div>
      </section>

      <section class="frames-section" aria-label="Frames" data-testid="frames-section">
        <div class="section-head">
          <h2>
            Frames{' '}
            <span class="muted" data-testid="frames-done">
              {num(render.framesDone)}/{num(render.frameCount)} done
            </span>
          </h2>
          {page && page.total > FRAME_PAGE && <Pager testid="frame-pager-top" offset={offset} limit={FRAME_PAGE} total={page.total} onChange={onOffset} />}
        </div>
        <ErrorBanner error={error} />
        {page === null && !error && <div class="loading-row">Loading frames…</div>}
        {page && (
          <div class="frame-grid" data-testid="frame-grid" style={{ '--frame-aspect': String(aspect ?? 4 / 3) }}>
            {page.frames.map((f) => (
              <FrameTile key={f.frame} jobId={job.id} frame={f} selected={f.frame === selected} onSelect={onSelect} onSize={aspect === null ? learnAspect : undefined} />
            ))}
          </div>
        )}
        {page && page.total > FRAME_PAGE && <Pager testid="frame-pager" offset={offset} limit={FRAME_PAGE} total={page.total} onChange={onOffset} />}
      </section>
    </>
  );
}

/** A job's override, else what the .blend says (marked so), else only "as saved" when nobody read it. */
function settingOf(override: string | null, fromScene: string | undefined): { value: string; muted: boolean; note?: string } {
  if (override !== null) return { value: override, muted: false };
  if (fromScene !== undefined) return { value: fromScene, muted: false, note: 'as saved in the .blend' };
  return { value: 'as saved', muted: true };
}

function resolutionText(resolution: RenderInfo['resolution'], percentage: number | null): string | null {
  if (!resolution) return percentage ? `${percentage}% of the scene's` : null;
  return `${resolution.width} × ${resolution.height}${percentage && percentage !== 100 ? ` at ${percentage}%` : ''}`;
}

function savedResolution(saved: SceneSettingsSeen | undefined): string | undefined {
  const r = saved?.resolution;
  if (!r) return undefined;
  const pct = saved.percentage ?? 100;
  return pct === 100 ? `${r.width} × ${r.height}` : `${r.width} × ${r.height} at ${pct}%`;
}

function Setting({ label, value, muted, note, testid }: { label: string; value: string; muted?: boolean; note?: string; testid?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd class={`mono${muted ? ' muted' : ''}`} data-testid={testid} title={note} data-source={note ? 'scene' : muted ? 'unknown' : 'job'}>
        {value}
        {note && <span class="setting-note"> (scene)</span>}
      </dd>
    </div>
  );
}

/** A thumbnail, or the state of a frame not rendered yet. Memoized: a page holds hundreds. */
const FrameTile = memo(function FrameTile(props: {
  jobId: string;
  frame: Frame;
  selected: boolean;
  onSelect: (frame: number) => void;
  onSize?: (w: number, h: number) => void;
}) {
  const { frame: f } = props;
  const done = f.status === 'done';
  return (
    <button
      type="button"
      class={`frame-tile frame-${f.status}${props.selected ? ' selected' : ''}`}
      data-testid="frame-tile"
      data-frame={f.frame}
      data-status={f.status}
      title={done ? `Frame ${f.frame}: rendered in ${duration(f.renderMs)}` : `Frame ${f.frame}: ${f.status} (task ${f.taskIndex})`}
      onClick={() => props.onSelect(f.frame)}
    >
      <span class="frame-thumb">
        {done && f.thumbnail ? (
          <img
            src={frameUrl(props.jobId, f.frame, 'thumbnail')}
            alt={`Frame ${f.frame}`}
            loading="lazy"
            decoding="async"
            data-testid="frame-thumb"
            onLoad={props.onSize ? (e) => props.onSize!(e.currentTarget.naturalWidth, e.currentTarget.naturalHeight) : undefined}
          />
        ) : (
          <span class="frame-state">{done ? 'no thumbnail' : f.status}</span>
        )}
      </span>
      <span class="frame-label mono">{f.frame}</span>
    </button>
  );
});

/** Swaps to a new image only once it has loaded, so following the latest frame does not flicker. */
function SmoothImage({ src, alt, testid, onSize }: { src: string; alt: string; testid: string; onSize: (w: number, h: number) => void }) {
  const [shown, setShown] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let current = true;
    const image = new Image();
    image.onload = () => {
      if (!current) return;
      setShown(src);
      setFailed(false);
      onSize(image.naturalWidth, image.naturalHeight);
    };
    image.onerror = () => current && setFailed(true);
    image.src = src;
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [src]);
  if (failed && shown !== src && !shown) return <div class="viewer-empty">This frame has no preview image.</div>;
  return shown ? <img class="viewer-image" src={shown} alt={alt} data-testid={testid} /> : <div class="viewer-empty">Loading…</div>;
}

function PreviewVideo({ job }: { job: Job & { render: RenderInfo } }) {
  const preview = job.render.preview;
  let body;
  if (preview?.status === 'ready') {
    body = (
      <video
        key={preview.sha256 ?? 'preview'}
        class="preview-video"
        controls
        loop
        muted
        playsInline
        preload="metadata"
        src={apiUrl(`jobs/${encodeURIComponent(job.id)}/preview.mp4`)}
        data-testid="preview-video"
      />
    );
  } else if (preview?.status === 'pending') {
    body = <p class="muted">Making the preview video…</p>;
  } else if (preview?.status === 'unavailable') {
    body = <p class="muted">No preview video{preview.error ? `: ${preview.error}` : ''}.</p>;
  } else if (preview?.status === 'failed') {
    body = <p class="err-text">The preview video failed{preview.error ? `: ${preview.error}` : ''}.</p>;
  } else {
    body = <p class="muted">{job.status === 'done' ? 'The preview video is on its way…' : 'A preview video is made once every frame is done.'}</p>;
  }
  return (
    <section class="panel preview-panel" data-testid="preview-panel" data-preview={preview?.status ?? 'none'}>
      <div class="viewer-head">
        <h2>Preview video</h2>
        {preview?.status === 'ready' && (
          <a class="btn btn-small" href={apiUrl(`jobs/${encodeURIComponent(job.id)}/preview.mp4`)} download={`${job.id}-preview.mp4`}>
            ⬇ .mp4
          </a>
        )}
      </div>
      {body}
    </section>
  );
}
