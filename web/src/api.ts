// The coordinator's HTTP API (docs/api.md): types and a small fetch wrapper. Authentication rides
// on the HttpOnly `drover_token` cookie, so fetch uses same-origin credentials and EventSource works.
import { BLOB_BATCH_TYPE } from '../../src/core/blob-batch.ts';

// The shapes the coordinator sends and takes are the wire contract's (src/wire/, TypeBox schemas
// and their static types). Imported as types only: they cost the bundle nothing.
export type { JobStatus, TaskStatus } from '../../src/core/states.ts';
export type { InstanceType } from '../../src/core/instance-types.ts';
export type {
  ApiTokenView as ApiToken,
  AttemptView as Attempt,
  CreatedApiToken,
  FileRef,
  FramePage,
  FrameView as Frame,
  ImageFormat,
  JobActionResults,
  JobCounts,
  JobCountsByStatus,
  JobList,
  JobView as Job,
  LogEntry,
  PreviewStatus,
  RenderJobBody as RenderJobSpec,
  RenderView as RenderInfo,
  Requirements as JobRequirements,
  SceneSettingsSeen,
  SchedulingRequest,
  ScriptJobBody as ScriptJobSpec,
  StepView as StepInfo,
  TaskCounts,
  TaskDetail,
  TaskView as Task,
  AuditEntry,
  DeliveryView as Delivery,
  UsageReport,
  WebhookView as Webhook,
  UserQuotaView as UserQuota,
  UserTokenList,
  WorkerDetail,
  WorkerView as Worker,
} from '../../src/wire/index.ts';
import type { UserQuotaView, UserView } from '../../src/wire/index.ts';
/** A user; in the admins' user list, with their limits and their use against them. */
export type User = UserView & { quota?: UserQuotaView };

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
