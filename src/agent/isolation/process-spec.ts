/**
 * What the agent wants to run for one task. Paths in argv are relative to cwd (the task
 * directory), so an isolation layer can wrap the spec without rewriting the task's own arguments.
 */
export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}
