// The agent's own credentials, kept in its work directory (mode 0600) so a restarted agent keeps
// its identity. Task processes never see this file: it is outside their directory, hidden by the
// sandbox, and never passed in their environment.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AgentIdentity {
  agentId: string;
  agentToken: string;
}

const FILE = 'agent.json';

export async function loadIdentity(workDir: string): Promise<AgentIdentity | null> {
  try {
    const parsed = JSON.parse(await readFile(join(workDir, FILE), 'utf8')) as Partial<AgentIdentity>;
    return parsed.agentId && parsed.agentToken ? { agentId: parsed.agentId, agentToken: parsed.agentToken } : null;
  } catch {
    return null;
  }
}

export async function saveIdentity(workDir: string, identity: AgentIdentity): Promise<void> {
  const path = join(workDir, FILE);
  await writeFile(path, JSON.stringify(identity), { mode: 0o600 });
  await chmod(path, 0o600);
}
