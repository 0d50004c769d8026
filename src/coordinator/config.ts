// The coordinator's settings, with the defaults an embedded farm uses.
import { DEFAULT_INSTANCE_CORES, type InstanceTypeCores } from '../core/instance-types.js';
import type { TaskNetworkPolicy } from '../core/task-network.js';
import { defaultDataDir } from '../data-dir.js';
import { ConfigError, envBytesOrZero, envNumber } from '../env-settings.js';

export interface CoordinatorConfig {
  dataDir: string;
  host: string;
  port: number;
  /** How long a lease lasts without a heartbeat; an agent silent for longer loses its tasks. */
  leaseSeconds: number;
  /** After a restart running tasks get one lease plus the farm's downtime to be heard from, the
   * downtime counted up to this many seconds. */
  restartGraceMaxSeconds: number;
  /** The most tasks one job may have; bigger jobs are refused with this limit named. */
  maxTasksPerJob: number;
  /** Jobs one (non-admin) user may create per minute, in bursts of as many. */
  jobCreatePerMinute: number;
  instanceCores: InstanceTypeCores;
  /** The largest single file a client may upload. */
  maxUploadBytes: number;
  /** Live log kept per attempt; past it the log says it was capped (stdout.txt stays whole). */
  logLimitBytes: number;
  tokenTtlDays: number;
  adminPassword?: string;
  /** Log each HTTP request (off by default: the CLI prints what matters). */
  logRequests: boolean;
  /** The store: a `postgres://` URL (replicas share it) or a SQLite file. Default `<dataDir>/drover.sqlite`. */
  database?: string;
  /** The blob store, shared by replicas: a directory (a network file system) or `s3://bucket/prefix`.
   * Default `<dataDir>/blobs`. */
  blobs?: string;
  /** With an S3 blob store, agents fetch files by presigned URL straight from the bucket (default);
   * off, the coordinator streams them. */
  s3Presign: boolean;
  /** The agent join token file; replicas share one. Default `<dataDir>/agent-token`. */
  joinTokenFile?: string;
  /** Failed attempts of one job after which an agent gets no more of its tasks; a task that failed
   * on this many different agents errors. */
  agentFailureLimit: number;
  /** Free disk space the blob store keeps in reserve (for the database); uploads that would eat into
   * it are refused with 507. */
  minFreeBytes: number;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Blobs someone claimed (asked about, uploaded) this recently are never collected: an upload for
   * a job not created yet survives. */
  collectGraceSeconds: number;
  /** How often the coordinator collects unreferenced blobs and applies retention. */
  collectIntervalSeconds: number;
  /** Finished jobs older than this many days are archived or deleted (`retainAction`); unset: kept. */
  retainFinishedDays?: number;
  retainAction: 'archive' | 'delete';
  /** Whether tasks may have the network at all (`--task-network deny`: none, and jobs asking are refused). */
  taskNetwork: TaskNetworkPolicy;
  /** Whether webhooks may call loopback and private addresses (`--allow-private-webhooks`; `drover up`
   * allows them: it is one person's machine). */
  webhookAllowPrivate: boolean;
  /** The first wait before a failed webhook delivery is tried again; it doubles each try, up to an hour. */
  webhookRetryBaseSeconds: number;
  /** How long a webhook delivery is retried before it is given up (default a day). */
  webhookGiveUpSeconds: number;
}

export { defaultDataDir };

/** A setting of the coordinator's (environment or flag) that cannot be used: the CLI prints it as one line. */
export { ConfigError };

export function coordinatorConfig(overrides: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    dataDir: defaultDataDir(),
    host: process.env.DROVER_HOST ?? '127.0.0.1',
    port: 8686,
    leaseSeconds: envNumber('DROVER_LEASE_SECONDS', 30),
    restartGraceMaxSeconds: envNumber('DROVER_RESTART_GRACE_MAX_SECONDS', 3600),
    maxTasksPerJob: envNumber('DROVER_MAX_TASKS_PER_JOB', 100_000),
    jobCreatePerMinute: envNumber('DROVER_JOB_CREATE_PER_MINUTE', 60),
    instanceCores: DEFAULT_INSTANCE_CORES,
    maxUploadBytes: envNumber('DROVER_MAX_UPLOAD_BYTES', 20 * 1024 ** 3),
    logLimitBytes: envNumber('DROVER_LOG_LIMIT_BYTES', 16 * 1024 ** 2),
    tokenTtlDays: envNumber('DROVER_TOKEN_TTL_DAYS', 30),
    adminPassword: process.env.DROVER_ADMIN_PASSWORD || undefined,
    logRequests: process.env.DROVER_LOG_REQUESTS === '1',
    database: process.env.DROVER_DB || undefined,
    blobs: process.env.DROVER_BLOBS || undefined,
    s3Presign: process.env.DROVER_S3_PRESIGN !== '0',
    joinTokenFile: process.env.DROVER_JOIN_TOKEN_FILE || undefined,
    agentFailureLimit: envNumber('DROVER_AGENT_FAILURE_LIMIT', 3),
    minFreeBytes: envBytesOrZero('DROVER_MIN_FREE_BYTES', 64 * 1024 ** 2),
    taskNetwork: 'allow',
    webhookAllowPrivate: process.env.DROVER_WEBHOOK_ALLOW_PRIVATE === '1',
    webhookRetryBaseSeconds: envNumber('DROVER_WEBHOOK_RETRY_BASE_SECONDS', 10),
    webhookGiveUpSeconds: envNumber('DROVER_WEBHOOK_GIVE_UP_SECONDS', 86400),
    collectGraceSeconds: envNumber('DROVER_COLLECT_GRACE_SECONDS', 3600),
    collectIntervalSeconds: envNumber('DROVER_COLLECT_INTERVAL_SECONDS', 600),
    retainAction: 'archive',
    ...overrides,
  };
}
