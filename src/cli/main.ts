// The `drover` command line.
import { Command, CommanderError } from 'commander';
import { DROVER_VERSION } from '../version.js';
import { registerAccountCommands } from './commands/account.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { registerBlenderAddonCommand } from './commands/blender-addon.js';
import { registerFarmCommands } from './commands/farm.js';
import { registerFleetCommand } from './commands/fleet.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerRenderCommand } from './commands/render.js';
import { registerImageCommands } from './commands/images.js';
import { registerWorkerCommands } from './commands/workers.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerUsageCommand } from './commands/usage.js';
import { failAndExit } from './session.js';

export function buildProgram(): Command {
  const program = new Command('drover')
    .description('Drover: a render farm and distributed batch-compute system')
    .version(DROVER_VERSION, '-V, --cli-version', 'print the CLI version')
    .showHelpAfterError()
    .exitOverride();
  registerFarmCommands(program);
  registerFleetCommand(program);
  registerAccountCommands(program);
  registerTokenCommands(program);
  registerWebhookCommands(program);
  registerAuditCommand(program);
  registerJobCommands(program);
  registerRenderCommand(program);
  registerWorkerCommands(program);
  registerStorageCommands(program);
  registerUsageCommand(program);
  registerImageCommands(program);
  registerBlenderAddonCommand(program);
  return program;
}

/** A reader that went away (`drover job view … | head`) is no error: stop quietly. */
function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    failAndExit(err);
  }
}
