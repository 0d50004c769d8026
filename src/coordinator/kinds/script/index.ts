// The script kind (the original workflow): one task per input file, each laid out as is.
import type { JobKindDefinition } from '../kind.js';
import { type ScriptJobRequest, createScriptJob } from './script-jobs.js';

export const scriptKind: JobKindDefinition<ScriptJobRequest> = {
  create: createScriptJob,
  // Nothing to check beyond the lease: successes take dispatch's quick path.
  quickCompletion: true,
  warnsWhenNothingProduced: true,
};
