// `drover image add|list|remove`: a user's named container images.
import type { Command } from 'commander';
import { table } from '../format.js';
import { signedInClient } from '../session.js';

interface ImageView {
  name: string;
  ref: string;
  default: boolean;
  createdAt: string;
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('your named container images: jobs run in the one they name, or in your default');
  image
    .command('add <name> <ref>')
    .description('name a container image reference (e.g. drover image add py python:3.12-slim --default)')
    .option('--default', 'use it for jobs that name no image', false)
    .option('--json', 'machine-readable output')
    .action(async (name: string, ref: string, opts: { default: boolean; json?: boolean }) => {
      const client = await signedInClient();
      const added = await client.json<ImageView>('POST', '/images', { name, ref, ...(opts.default ? { default: true } : {}) });
      if (opts.json) return console.log(JSON.stringify(added, null, 2));
      console.log(`added image ${added.name} (${added.ref})${added.default ? ', your default' : ''}`);
    });
  image
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const client = await signedInClient();
      const { images } = await client.json<{ images: ImageView[] }>('GET', '/images');
      if (opts.json) return console.log(JSON.stringify(images, null, 2));
      if (images.length === 0) return console.log('no images: add one with `drover image add NAME REF`');
      console.log(table(['NAME', 'REF', 'DEFAULT', 'ADDED'], images.map((i) => [i.name, i.ref, i.default ? 'yes' : '', i.createdAt])));
    });
  image
    .command('remove <name>')
    .action(async (name: string) => {
      const client = await signedInClient();
      await client.json('DELETE', `/images/${encodeURIComponent(name)}`);
      console.log(`removed image ${name}`);
    });
}
