// Whether a job's tasks get the network: the one rule for every kind of job, so script, render and
// template jobs (and containers) cannot drift apart.

/** The farm-wide setting (`drover server --task-network`): `deny` keeps every task off the network. */
export const TASK_NETWORK_POLICIES = ['allow', 'deny'] as const;
export type TaskNetworkPolicy = (typeof TASK_NETWORK_POLICIES)[number];

/**
 * How a kind of job is treated when it does not say. Scripts (and templates) get the network, as on
 * every farm people know: tutorials download projects and upload results. Render jobs do not: a
 * .blend can carry Python that runs on load, and Drover hands a render task everything it needs.
 */
export type NetworkDefault = 'on' | 'off';

export const NETWORK_DEFAULTS: Record<'script' | 'render' | 'template', NetworkDefault> = { script: 'on', render: 'off', template: 'on' };

export type NetworkDecision = { network: boolean } | { refused: string };

export const TASK_NETWORK_DENIED = 'task network access is turned off on this farm (drover server --task-network deny): submit the job without network access (--no-network)';

/**
 * A job's network: what it asked for (`requested`: true, false, or nothing said), else its kind's
 * default; under a farm-wide `deny`, nothing, and a job that explicitly asks is refused (rather than
 * quietly run without the network it said it needs).
 */
export function decideTaskNetwork(requested: boolean | undefined, kindDefault: NetworkDefault, policy: TaskNetworkPolicy): NetworkDecision {
  if (policy === 'deny') return requested === true ? { refused: TASK_NETWORK_DENIED } : { network: false };
  return { network: requested ?? kindDefault === 'on' };
}

export function parseTaskNetworkPolicy(value: string): TaskNetworkPolicy {
  if ((TASK_NETWORK_POLICIES as readonly string[]).includes(value)) return value as TaskNetworkPolicy;
  throw new Error(`--task-network must be ${TASK_NETWORK_POLICIES.join(' or ')}, not "${value}"`);
}
