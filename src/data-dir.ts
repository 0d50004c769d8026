// Where Drover keeps its data by default (the coordinator's store, agents' work directories):
// shared by the coordinator and the CLI, so that starting an agent loads nothing of the coordinator.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(): string {
  return process.env.DROVER_DATA ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'drover');
}
