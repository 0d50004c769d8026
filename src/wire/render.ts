// Render jobs: the request, the render settings a job keeps and every task's lease carries, the
// preview step's lease, the job view's `render` part, and frames.
import { Type, type Static } from '@sinclair/typebox';
import { FileRef, Nullable, Sha256, strict, Time } from './common.js';
import { RunFields } from './scheduling.js';
import { TaskStatusSchema } from './states.js';
import { IMAGE_FORMATS, type ImageFormat } from '../core/image-formats.js';

export { IMAGE_FORMATS, type ImageFormat };
const ImageFormatSchema = Type.Union(IMAGE_FORMATS.map((f) => Type.Literal(f)));

/** Where a render task's project files are laid out in its task directory. */
export const PROJECT_DIR = 'project';
/** The file a preview task reports. */
export const PREVIEW_FILE = 'preview.mp4';

const Resolution = Type.Object({ width: Type.Integer({ minimum: 4, maximum: 65_536 }), height: Type.Integer({ minimum: 4, maximum: 65_536 }) }, strict);

/** The scene's own settings as the submitter read them from the .blend: for people, not for Blender. */
export const SceneSettingsSeen = Type.Object(
  {
    format: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    resolution: Type.Optional(Type.Object({ width: Type.Integer({ minimum: 1, maximum: 1_000_000 }), height: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, strict)),
    percentage: Type.Optional(Type.Integer({ minimum: 1, maximum: 32_767 })), // Blender's own range
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
  },
  { ...strict, description: 'what the .blend itself says (read by the CLI or the web app): shown where no override is given, never used to render' },
);
export type SceneSettingsSeen = Static<typeof SceneSettingsSeen>;

export const RenderJobBody = Type.Object(
  {
    kind: Type.Literal('render'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    project: Type.Object(
      {
        files: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), sha256: Sha256 }, strict), { minItems: 1, maxItems: 100_000 }),
        blend: Type.String({ minLength: 1, maxLength: 1024 }),
      },
      strict,
    ),
    frames: Type.String({ minLength: 1, maxLength: 10_000, description: 'frame expression: 1-250, 1-250:5, 1,5,10-20' }),
    chunk: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    scene: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    format: Type.Optional(ImageFormatSchema),
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    resolution: Type.Optional(Resolution),
    percentage: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
    ...RunFields,
    network: Type.Optional(Type.Boolean({ description: 'network access for the tasks; default false' })),
    start: Type.Optional(Type.Boolean()),
    cold: Type.Optional(Type.Boolean()),
    sceneSettings: Type.Optional(SceneSettingsSeen),
  },
  strict,
);
export type RenderJobBody = Static<typeof RenderJobBody>;

const Size = Type.Object({ width: Type.Integer(), height: Type.Integer() });

/** The render settings a job keeps and every one of its tasks receives. */
export const RenderSettings = Type.Object({
  blend: Type.String(),
  frames: Type.String(),
  frameCount: Type.Integer(),
  chunk: Type.Integer(),
  scene: Nullable(Type.String()),
  format: Nullable(ImageFormatSchema),
  samples: Nullable(Type.Integer()),
  resolution: Nullable(Size),
  percentage: Nullable(Type.Integer()),
  fps: Type.Number(),
  cold: Type.Boolean({ description: 'one Blender process per task instead of a warm session' }),
  sceneSettings: Type.Optional(Type.Object({ format: Type.Optional(Type.String()), resolution: Type.Optional(Size), percentage: Type.Optional(Type.Integer()), samples: Type.Optional(Type.Integer()) }, { description: 'what the .blend says where no override is given (absent on jobs submitted without it)' })),
});
export type RenderSettings = Static<typeof RenderSettings>;

/** What a render job's lease carries as `jobSpec`: its settings, and its project files, laid out under `project/`. */
export const RenderJobSpec = Type.Object({ render: RenderSettings, files: Type.Array(FileRef), network: Type.Boolean() });
export type RenderJobSpec = Static<typeof RenderJobSpec>;

/** A rendered frame as the preview task reads it: its place in the results (`frames/frame_00001.png`) and its blob. */
export const PreviewFrame = Type.Object({ frame: Type.Integer(), path: Type.String(), sha256: Sha256 });
export type PreviewFrame = Static<typeof PreviewFrame>;

/**
 * What the preview task's lease carries as `taskSpec`: every frame of the job, in order, and the
 * scene's fps. The preview step starts once every chunk has started (not ended), so frames still
 * being rendered have no path or blob yet: the task asks for them as they are recorded
 * (GET /agent/tasks/:id/preview-frames).
 */
export const PreviewTaskSpec = Type.Object({
  frames: Type.Array(Type.Object({ frame: Type.Integer(), path: Nullable(Type.String()), sha256: Nullable(Sha256) })),
  fps: Type.Number(),
});
export type PreviewTaskSpec = Static<typeof PreviewTaskSpec>;

/** GET /agent/tasks/:id/preview-frames: the frames from `from` on, once frame `from` is recorded (or `waitSeconds` passed). */
export const PreviewFramesQuery = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    from: Type.Integer({ minimum: 0, maximum: 1_048_574 }),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
  },
  strict,
);
export type PreviewFramesQuery = Static<typeof PreviewFramesQuery>;
/** The recorded frames numbered `from` or more, in order (at most 1,000; frames not recorded yet are left out). */
export const PreviewFramesAnswer = Type.Object({ frames: Type.Array(PreviewFrame) });
export type PreviewFramesAnswer = Static<typeof PreviewFramesAnswer>;

export const PREVIEW_STATUSES = ['pending', 'ready', 'unavailable', 'failed'] as const;
export type PreviewStatus = (typeof PREVIEW_STATUSES)[number];

/** The `render` part of a job view: its settings and its progress by frame (lists show only the last frame's thumbnail). */
export const RenderView = Type.Composite([
  RenderSettings,
  Type.Object({
    framesDone: Type.Optional(Type.Integer({ description: 'the job view; lists omit it' })),
    lastFrame: Type.Optional(
      Nullable(
        Type.Object({
          frame: Type.Integer(),
          thumbnail: Nullable(Sha256),
          finishedAt: Nullable(Time),
          // The job view only; a list's row has the thumbnail alone.
          path: Type.Optional(Nullable(Type.String())),
          sha256: Type.Optional(Nullable(Sha256)),
          preview: Type.Optional(Nullable(Sha256)),
          renderMs: Type.Optional(Nullable(Type.Integer())),
        }),
      ),
    ),
    preview: Type.Optional(
      Nullable(Type.Object({ status: Type.Union(PREVIEW_STATUSES.map((s) => Type.Literal(s))), sha256: Nullable(Sha256), size: Nullable(Type.Integer()), error: Nullable(Type.String()) })),
    ),
    previewTask: Type.Optional(
      Nullable(
        Type.Object({
          id: Type.String(),
          index: Type.Integer(),
          status: TaskStatusSchema,
          attempts: Type.Integer(),
          agent: Nullable(Type.String()),
          error: Nullable(Type.String()),
          warning: Nullable(Type.String()),
        }),
      ),
    ),
  }),
]);
export type RenderView = Static<typeof RenderView>;

export const FrameParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), frame: Type.Integer({ minimum: 0, maximum: 1_048_574 }) }, strict);
export const FrameListQuery = Type.Object(
  { offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })) },
  strict,
);
export const FrameUploadBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    frame: Type.Integer({ minimum: 0, maximum: 1_048_574 }),
    path: Type.String({ minLength: 1, maxLength: 1024 }),
    sha256: Sha256,
    size: Type.Integer({ minimum: 0 }),
    renderMs: Type.Optional(Type.Integer({ minimum: 0 })),
    thumbnail: Type.Optional(Sha256),
    preview: Type.Optional(Sha256),
  },
  strict,
);
export type FrameUploadBody = Static<typeof FrameUploadBody>;

/** One frame of a render job (GET /jobs/:id/frames). */
export const FrameView = Type.Object({
  frame: Type.Integer(),
  /** 'done' once its image is stored; otherwise its task's state. */
  status: TaskStatusSchema,
  taskIndex: Type.Integer(),
  path: Nullable(Type.String()),
  sha256: Nullable(Sha256),
  size: Nullable(Type.Integer()),
  thumbnail: Nullable(Sha256),
  preview: Nullable(Sha256),
  renderMs: Nullable(Type.Integer()),
  attempt: Nullable(Type.Integer()),
  finishedAt: Nullable(Time),
});
export type FrameView = Static<typeof FrameView>;

export const FramePage = Type.Object({ total: Type.Integer(), done: Type.Integer(), frames: Type.Array(FrameView) });
export type FramePage = Static<typeof FramePage>;
