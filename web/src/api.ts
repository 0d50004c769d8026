// The coordinator's HTTP API (docs/api.md): types and a small fetch wrapper. Authentication rides
// on the HttpOnly `drover_token` cookie, so fetch uses same-origin credentials and EventSource works.
import { BLOB_BATCH_TYPE } from '../../src/core/blob-batch.ts';

export type JobStatus = 'created' | 'queued' | 'running' | 'done' | 'error' | 'canceled';
export type TaskStatus = 'pending' | 'queued' | 'running' | 'done' | 'error' | 'canceled';
export type InstanceType = 's' | 'm' | 'l' | 'xl';

export interface User {
  id: string;
  name: string;
  admin: boolean;
  createdAt: string;
  /** In the admins' user list: the user's limits and their use against them. */
  quota?: UserQuota;
}

export interface UserQuota {
  maxCores: number | null;
  monthlyCoreHours: number | null;
  overBudget: 'hold' | 'stop';
  runningCores: number;
  monthCoreSeconds: number;
  budgetSpent: boolean;
}

export type TaskCounts = Record<TaskStatus, number>;
/** A job's counts: `running` are at work, `uploading` running tasks whose results are on their way (older coordinators omit it). */
export type JobCounts = TaskCounts & { uploading?: number };

export interface Job {
  id: string;
  name: string;
  kind: 'script' | 'render' | 'template';
  status: JobStatus;
  owner: string;
  instanceType: InstanceType;
  cores: number;
  maxAttempts: number;
  image: string | null;
  taskCount: number;
  counts: JobCounts;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** When the job was archived (hidden from the default lists), or null. */
  archivedAt?: string | null;
  durationMs: number | null;
  cpuSeconds: number | null;
  etaSeconds: number | null;
  unschedulable: string | null;
  /** 0–100, higher leased first (default 50). */
  priority: number;
  /** Jobs it waits for (`after`; the job view fills it, lists leave it empty), and whether any end will do. */
  after: string[];
  afterAny: boolean;
  /** What its tasks ask of an agent beyond cores, or null. */
  requirements: JobRequirements | null;
  /** Created or queued jobs: why their tasks are not running yet, a sentence; null when nothing holds them back. */
  waiting: string | null;
  /** Agents that failed too many of its tasks and get no more of them (the job view only). */
  blockedAgents?: string[];
  /** Whether the job's tasks have network access. */
  network?: boolean;
  requireResults?: boolean;
  render?: RenderInfo;
  /** Template jobs (the job view): each step and what it waits for. */
  steps?: StepInfo[];
}

/** What a job asks of an agent beyond cores (`requirements` on every kind of job). */
export interface JobRequirements {
  memoryMiB?: number;
  gpus?: number;
  labels?: Record<string, string>;
}

/** The scheduling fields every kind of job request takes (docs/api.md "Scheduling"). */
export interface SchedulingRequest {
  priority?: number;
  after?: string[];
  afterAny?: boolean;
  cores?: number;
  requirements?: JobRequirements;
}

/** A step of a template job. */
export interface StepInfo {
  index: number;
  name: string;
  status: JobStatus | 'pending';
  taskCount: number;
  counts: TaskCounts;
  dependsOn: string[];
  unschedulable: string | null;
}

export type ImageFormat = 'PNG' | 'JPEG' | 'OPEN_EXR' | 'TIFF';
export type PreviewStatus = 'pending' | 'ready' | 'unavailable' | 'failed';

/** A render job's settings and progress by frame (the `render` part of a Job). */
export interface RenderInfo {
  blend: string;
  frames: string;
  frameCount: number;
  chunk: number;
  scene: string | null;
  format: string | null;
  samples: number | null;
  resolution: { width: number; height: number } | null;
  percentage: number | null;
  fps: number;
  cold?: boolean;
  /** What the .blend itself says, where the job gives no override (read when it was submitted). */
  sceneSettings?: SceneSettingsSeen;
  framesDone: number;
  lastFrame: {
    frame: number;
    path: string | null;
    sha256: string | null;
    thumbnail: string | null;
    preview: string | null;
    renderMs: number | null;
    finishedAt: string | null;
  } | null;
  preview: { status: PreviewStatus; sha256: string | null; size: number | null; error: string | null } | null;
}

export interface SceneSettingsSeen {
  format?: string;
  resolution?: { width: number; height: number };
  percentage?: number;
  samples?: number;
}

/** One frame of a render job (GET /jobs/:id/frames). */
export interface Frame {
  frame: number;
  /** 'done' once its image is stored; otherwise its task's state. */
  status: TaskStatus;
  taskIndex: number;
  path: string | null;
  sha256: string | null;
  size: number | null;
  thumbnail: string | null;
  preview: string | null;
  renderMs: number | null;
  attempt: number | null;
  finishedAt: string | null;
}

export interface FramePage {
  total: number;
  done: number;
  frames: Frame[];
}

export type JobCountsByStatus = Record<'all' | JobStatus, number>;

export interface JobList {
  jobs: Job[];
  total: number;
  countsByStatus: JobCountsByStatus;
}

export interface Attempt {
  attempt: number;
  agent: string | null;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
}

export interface Task {
  id: string;
  jobId: string;
  index: number;
  status: TaskStatus;
  input: string;
  attempts: number;
  /** Attempts since the last retry (what counts against maxAttempts); older coordinators omit it. */
  tries?: number;
  maxAttempts: number;
  agent: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  error: string | null;
  /** A done task that exited 0 without writing a result file or printing anything. */
  warning?: string | null;
}

export interface TaskDetail extends Omit<Task, 'attempts'> {
  attempts: Attempt[];
  /** What the task delivered (frames, result files, stdout.txt, stderr.txt); older coordinators omit it. */
  files?: { path: string; sha256: string; size: number }[];
}

export interface LogEntry {
  seq: number;
  attempt: number;
  stream: 'stdout' | 'stderr' | 'system';
  data: string;
  time: string;
}

export interface Worker {
  id: string;
  name: string;
  status: 'online' | 'offline' | 'draining';
  /** Paused by an admin: it finishes its running tasks and takes no new ones. */
  paused?: boolean;
  cores: number;
  memoryBytes: number;
  labels: Record<string, string> | string[] | null;
  slots: number;
  /** The coordinator sends whether tasks run confined (boolean); a name of the sandbox is also shown. */
  sandbox: string | boolean | null;
  version?: string;
  lastSeenAt: string | null;
  /** `cores`: what the task asks for (its job's instance size); older coordinators omit it. */
  /** `uploading`: its work is over and its results are on their way; it uses no slot. */
  runningTasks: { id: string; jobId: string; index: number; cores?: number; uploading?: boolean }[];
}

export interface FileRef {
  name: string;
  sha256: string;
}

export interface ScriptJobSpec extends SchedulingRequest {
  kind: 'script';
  name: string;
  script: FileRef;
  inputs: FileRef[];
  constants?: FileRef[];
  instanceType?: InstanceType;
  maxAttempts?: number;
  taskTimeoutSeconds?: number;
  image?: string;
  start?: boolean;
}

export interface RenderJobSpec extends SchedulingRequest {
  kind: 'render';
  name: string;
  project: { files: { path: string; sha256: string }[]; blend: string };
  frames: string;
  chunk: number;
  scene?: string;
  format?: ImageFormat;
  samples?: number;
  resolution?: { width: number; height: number };
  instanceType?: InstanceType;
  maxAttempts?: number;
  taskTimeoutSeconds?: number;
  start?: boolean;
  sceneSettings?: SceneSettingsSeen;
}

/** Where the API lives: relative to the page, so the app also works behind a path prefix. */
export const API_BASE = new URL('api/v1/', document.baseURI).pathname;

export function apiUrl(path: string): string {
  return API_BASE + path.replace(/^\//, '');
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

type UnauthorizedListener = () => void;
let onUnauthorized: UnauthorizedListener = () => {};

/** Called whenever the coordinator answers 401: the app returns to the sign-in page. */
export function setUnauthorizedHandler(listener: UnauthorizedListener): void {
  onUnauthorized = listener;
}

export function notifyUnauthorized(): void {
  onUnauthorized();
}

/** Reads the `{error: {code, message}}` body of a failed answer into an ApiError. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText || 'request failed'}`;
  let code = 'http_' + response.status;
  try {
    const text = await response.text();
    if (text) {
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string }; message?: string };
        if (body.error?.message) message = body.error.message;
        else if (body.message) message = body.message;
        if (body.error?.code) code = body.error.code;
      } catch {
        if (text.length < 300 && !text.trimStart().startsWith('<')) message = text;
      }
    }
  } catch {
    // keep the status line
  }
  return new ApiError(message, response.status, code);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not jump to the sign-in page on 401 (the sign-in form itself, the first /auth/me). */
  quiet401?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    signal: options.signal,
  };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the coordinator. Check the network and that it is running.', 0, 'network');
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function query(params: Record<string, string | number | undefined | null | false>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === false || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * PUTs one blob, or (sha256 null) POSTs a batch of them (src/core/blob-batch.ts), with
 * XMLHttpRequest: fetch has no upload progress. `onProgress` gets bytes sent.
 */
export function uploadBlob(
  sha256: string | null,
  file: Blob,
  onProgress: (loaded: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(sha256 ? 'PUT' : 'POST', apiUrl(sha256 ? `blobs/${sha256}` : 'blobs/batch'));
    xhr.withCredentials = true;
    xhr.setRequestHeader('content-type', sha256 ? 'application/octet-stream' : BLOB_BATCH_TYPE);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size);
        resolve();
        return;
      }
      const response = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      void errorFrom(response).then((error) => {
        if (xhr.status === 401) onUnauthorized();
        reject(error);
      });
    };
    xhr.onerror = () => reject(new ApiError('Upload failed: the coordinator could not be reached.', 0, 'network'));
    xhr.onabort = () => reject(new DOMException('Upload canceled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** What one action did to each job (POST /jobs/actions). */
export interface JobActionResults {
  action: string;
  results: { id: string; ok: boolean; status: string | null; archived: boolean; error: string | null }[];
}

/** Task numbers said compactly for the per-task actions: 1-3,7. */
export function taskNumbersSpec(numbers: readonly number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
