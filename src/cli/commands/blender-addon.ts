// `drover blender-addon -o FILE.zip`: writes the Blender add-on, ready for Edit > Preferences >
// Add-ons > Install.
import { writeFile, rename } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';

export function registerBlenderAddonCommand(program: Command): void {
  program
    .command('blender-addon')
    .description('write the Blender add-on zip (install it in Blender: Edit > Preferences > Add-ons > Install)')
    .option('-o, --output <file>', 'the zip to write', 'drover_blender.zip')
    .action(async (opts: { output: string }) => {
      const target = resolve(opts.output);
      const { blenderAddonZip } = await import('../../render/addon-zip.js'); // its zip packages, only here
      await writeFile(`${target}.part`, await blenderAddonZip());
      await rename(`${target}.part`, target);
      console.log(`wrote ${target}: in Blender, Edit > Preferences > Add-ons > Install, pick this file, enable "Render: Drover"`);
    });
}
