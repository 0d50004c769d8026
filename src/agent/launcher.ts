// How an agent runs task processes: as they are, confined with bubblewrap, or in a container.
import type { LeasedTask } from '../coordinator/services/leasing.js';
import type { ProgramFactory } from './task-program.js';
import type { Launcher } from './task-runner.js';

export interface LauncherOptions {
  sandbox: boolean;
  workDir: string;
  engine?: 'docker' | 'podman';
}

export interface AgentLaunch {
  launcher: Launcher;
  /** Whether host tasks are confined. */
  sandboxed: boolean;
  programs?: Partial<Record<LeasedTask['kind'], ProgramFactory>>;
  shutdown(): Promise<void>;
}

export async function createLauncher(_opts: LauncherOptions): Promise<AgentLaunch> {
  return {
    launcher: async (spec, task) => {
      if (task.image) throw new Error(`this agent cannot run container images yet (the job asks for ${task.image})`);
      return { spec };
    },
    sandboxed: false,
    async shutdown() {},
  };
}
