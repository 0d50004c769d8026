// Script jobs (the original workflow): a script run once per input file, with constants files
// given to every task.
import type { InstanceType } from '../../../core/instance-types.js';
import { sharedNameClashes } from '../../../core/inputs.js';
import { NETWORK_DEFAULTS } from '../../../core/task-network.js';
import { badRequest } from '../../errors.js';
import type { UserPrincipal } from '../../services/accounts.js';
import type { ServiceContext } from '../../services/context.js';
import { resolveJobImage } from '../../services/images.js';
import { type FileRef, assertOwnsFiles, insertJobWithTasks, jobNameProblem, jobNetwork, type RunRequest, runSettings } from '../../services/job-creation.js';

/** With what every kind says about running and scheduling its tasks (RunRequest). */
export interface ScriptJobRequest extends RunRequest {
  kind: 'script';
  name: string;
  script: FileRef;
  inputs: FileRef[];
  constants?: FileRef[];
  image?: string;
  network?: boolean;
  requireResults?: boolean;
}

/** What a script job keeps beside its rows; the agent gets it with every leased task. */
export interface ScriptJobSpec {
  script: FileRef;
  constants: FileRef[];
  network: boolean;
  /** A task that exits 0 without writing a result file fails (the agent checks; see task-results.ts). */
  requireResults?: boolean;
}

export async function createScriptJob(ctx: ServiceContext, user: UserPrincipal, req: ScriptJobRequest): Promise<string> {
  const nameProblem = jobNameProblem(req.name);
  if (nameProblem) throw badRequest(nameProblem);
  if (req.inputs.length === 0) throw badRequest('a script job needs at least one input file: one task runs per input');
  const constants = req.constants ?? [];
  const clash = sharedNameClashes(req.script, constants, req.inputs);
  if (clash) throw badRequest(clash);
  await assertOwnsFiles(ctx, user.id, [req.script, ...constants, ...req.inputs]);
  const network = jobNetwork(ctx, req.network, NETWORK_DEFAULTS.script);
  const spec: ScriptJobSpec = { script: req.script, constants, network, ...(req.requireResults ? { requireResults: true } : {}) };
  const image = await resolveJobImage(ctx.db, user.id, req.image);
  return insertJobWithTasks(
    ctx,
    user,
    {
      name: req.name,
      kind: 'script',
      ...runSettings(req),
      image,
      spec,
    },
    req.inputs.map((input) => ({ input: input.name, inputSha: input.sha256, spec: null })),
  );
}
