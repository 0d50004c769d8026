// The tables as Kysely sees them. Times are ISO-8601 UTC strings (fixed width, so they sort and
// compare as text on SQLite and PostgreSQL alike); JSON documents are text; booleans are 0/1.
// Status and kind columns carry the unions of the values our code writes (Kysely checks writes and
// comparisons against them, and reads need no cast): the store is written by Drover alone.
import type { Generated, Kysely, Transaction } from 'kysely';
import type { InstanceType } from '../core/instance-types.js';
import type { OverBudget } from '../core/quotas.js';
import type { JobStatus, TaskStatus } from '../core/states.js';
import type { JobKind } from '../wire/jobs.js';
import type { PreviewStatus } from '../wire/render.js';
import type { LogStream } from '../wire/tasks.js';
import type { AgentStatus } from '../wire/workers.js';

/**
 * A job half there, seen by nobody: its tasks are still being inserted, or it is being deleted
 * (jobs.ts HIDDEN_STATUSES).
 */
export type HiddenJobStatus = 'inserting' | 'deleting';

/** What a job's status column holds: a status people see, or a hidden one. */
export type StoredJobStatus = JobStatus | HiddenJobStatus;

/**
 * How an attempt stands: running, then uploading once its agent sends results; it ends done, error,
 * canceled (stopped by a person or a quota), interrupted (its agent gave it back) or lost (its
 * lease expired).
 */
export type AttemptStatus = 'running' | 'uploading' | 'done' | 'error' | 'canceled' | 'interrupted' | 'lost';

/** A webhook delivery: waiting for its (next) try, delivered, or given up. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface UsersTable {
  id: string;
  name: string;
  password_hash: string;
  is_admin: number;
  created_at: string;
  /** The most cores the user's running tasks may hold together (0019_quotas); null: no cap. */
  max_cores: number | null;
  /** Core-hours the user may use per calendar month (UTC); null: no budget. */
  monthly_core_hours: number | null;
  /** What happens once the month's budget is spent: 'hold' (no new task starts) or 'stop'. */
  over_budget: OverBudget | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  token_hash: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** Named API tokens (0014_accounts) have one; a sign-in's token has none. */
  name: string | null;
}

export interface AgentsTable {
  id: string;
  name: string;
  token_hash: string;
  cores: number;
  memory_bytes: number;
  labels: string;
  slots: number;
  sandbox: number;
  version: string;
  status: AgentStatus;
  /** Host facts host requirements match (JSON: os, arch, gpus), from 0006_templates. */
  attributes: string;
  /** 1: takes no new tasks until resumed (0009_agent_management). */
  paused: number;
  /** 1: removed from the list while offline; cleared when it is heard from again. */
  removed: number;
  /** JSON labels set from the coordinator (`drover worker label`), merged over the agent's own. */
  set_labels: string;
  /** JSON: what the agent can enforce on its host tasks (memory, processes, how), 0017_agent_limits; '{}' unknown. */
  limits: string;
  last_seen_at: string;
  created_at: string;
}

export interface JobsTable {
  id: string;
  user_id: string;
  name: string;
  kind: JobKind;
  status: StoredJobStatus;
  instance_type: InstanceType;
  cores: number;
  max_attempts: number;
  task_timeout_seconds: number | null;
  image: string | null;
  spec: string;
  task_count: number;
  /** 0–100, higher leased first (0007_priority). */
  priority: number;
  /** 1 while it waits for the jobs it depends on (0008_job_dependencies): no agent is offered its tasks. */
  held: number;
  /** 1: it waits for those jobs to end whatever their state, not for them to be done. */
  after_any: number;
  /** What its tasks ask of an agent beyond cores (JSON JobRequirements, 0010_job_requirements), or null. */
  requirements: string | null;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** When a person (or retention) archived the job; null while it is in plain sight (0011_job_archive). */
  archived_at: string | null;
}

export interface TasksTable {
  id: string;
  job_id: string;
  idx: number;
  status: TaskStatus;
  input_name: string;
  input_sha: string | null;
  spec: string | null;
  /** The number of the latest attempt: every lease counts, whatever became of it; never goes back, so attempt numbers stay unique. */
  attempt: number;
  /** Attempts used since the task was last (re)queued by a person (one its agent gave back at shutdown does not count); compared with max_attempts. */
  tries: number;
  agent_id: string | null;
  lease_expires_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  /** The step of its job (template jobs; 0 otherwise). */
  step: number;
  /** What the running attempt said of itself (openjd_progress, openjd_status). */
  progress: number | null;
  message: string | null;
}

export interface TaskAttemptsTable {
  task_id: string;
  attempt: number;
  agent_id: string;
  status: AttemptStatus;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  log_bytes: number;
}

export interface TaskLogsTable {
  id: Generated<number>;
  task_id: string;
  attempt: number;
  stream: LogStream;
  data: string;
  created_at: string;
}

export interface TaskFilesTable {
  task_id: string;
  path: string;
  sha256: string;
  size: number;
}

export interface BlobsTable {
  sha256: string;
  size: number;
  created_at: string;
}

/** When someone last said they are about to use a blob (0012_blob_collection). */
export interface BlobClaimsTable {
  sha256: string;
  claimed_at: string;
}

export interface BlobOwnersTable {
  user_id: string;
  sha256: string;
}

export interface FramesTable {
  job_id: string;
  frame: number;
  task_id: string;
  /** Where the frame sits in the results: `frames/<name Blender gave it>`. */
  path: string | null;
  sha256: string | null;
  size: number | null;
  render_ms: number | null;
  thumb_sha: string | null;
  preview_sha: string | null;
  attempt: number | null;
  finished_at: string | null;
}

export interface JobPreviewsTable {
  job_id: string;
  status: PreviewStatus;
  sha256: string | null;
  size: number | null;
  error: string | null;
  updated_at: string;
}

/** A user's named container image; at most one per user is the default. */
export interface ImagesTable {
  id: string;
  user_id: string;
  name: string;
  ref: string;
  is_default: number;
  created_at: string;
}

/** Failed attempts per job and agent (0003_agent_blocklist). */
export interface JobAgentFailuresTable {
  job_id: string;
  agent_id: string;
  failures: number;
}

/** People's actions (0014_accounts). */
export interface AuditLogTable {
  id: Generated<number>;
  time: string;
  user_id: string;
  user_name: string;
  action: string;
  target: string;
  /** JSON object: what changed. */
  details: string;
}

/** Core- and GPU-seconds of one task attempt on one UTC day (0018_usage_ledger); outlives jobs and users. */
export interface UsageLedgerTable {
  task_id: string;
  attempt: number;
  day: string;
  job_id: string;
  job_name: string;
  user_id: string;
  user_name: string;
  agent_id: string;
  status: string;
  seconds: number;
  cores: number;
  gpus: number;
  core_seconds: number;
  gpu_seconds: number;
  ended_at: string;
}

/** A user's webhook (0015_webhooks). */
export interface WebhooksTable {
  id: string;
  user_id: string;
  url: string;
  events: string;
  secret: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  job_id: string;
  created_at: string;
  status: DeliveryStatus;
  body: string | null;
  attempts: number;
  next_attempt_at: string;
  claimed_until: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  tries: string;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  agents: AgentsTable;
  jobs: JobsTable;
  tasks: TasksTable;
  task_attempts: TaskAttemptsTable;
  task_logs: TaskLogsTable;
  task_files: TaskFilesTable;
  blobs: BlobsTable;
  blob_owners: BlobOwnersTable;
  blob_claims: BlobClaimsTable;
  job_agent_failures: JobAgentFailuresTable;
  job_dependencies: JobDependenciesTable;
  images: ImagesTable;
  frames: FramesTable;
  job_previews: JobPreviewsTable;
  audit_log: AuditLogTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  usage_ledger: UsageLedgerTable;
}

/** A job and one job it waits for (0008_job_dependencies). */
export interface JobDependenciesTable {
  job_id: string;
  after_id: string;
}

/** A connection or a transaction: repositories accept either. */
export type Db = Kysely<Database> | Transaction<Database>;
