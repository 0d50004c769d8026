// What people may do to many jobs at once, shared by the API schema, the CLI and the web app.

export const JOB_ACTIONS = ['start', 'stop', 'retry', 'archive', 'unarchive', 'delete'] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

/** The most jobs one request may act on; the CLI sends longer lists in parts. */
export const MAX_BULK_JOBS = 500;
