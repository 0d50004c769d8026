// The wire contract: every request and answer shared by the coordinator, the agent, the CLI and
// the web app, as TypeBox schemas (the coordinator validates requests with them and describes
// answers with them in its OpenAPI document) and their static types. One file per area; nothing
// here does I/O or loads the coordinator or the store, so the agent and the web app can use it.
export * from './common.js';
export * from './states.js';
export * from './scheduling.js';
export * from './accounts.js';
export * from './blobs.js';
export * from './jobs.js';
export * from './render.js';
export * from './templates.js';
export * from './tasks.js';
export * from './agents.js';
export * from './workers.js';
export * from './results.js';
export * from './storage.js';
export * from './usage.js';
export * from './webhooks.js';
export * from './images.js';
