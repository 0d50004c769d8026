// `drover render PROJECT`: a Blender project (a .blend, a folder or a zip) rendered across agents.
// The project walker (with its zip reader) and the .blend reader (with zstd) load when this command
// runs: every `drover` run registers it (see templates.ts).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { FrameExpressionError, formatFrameList, parseFrames } from '../../core/frames.js';
import { INSTANCE_TYPES, type InstanceType } from '../../core/instance-types.js';
import type { JobView } from '../../wire/jobs.js';
import { checkBlendFile } from '../../render/blend-file.js';
import { IMAGE_FORMATS, type ImageFormat, isImageFormat } from '../../render/blender-command.js';
import type { HashedProjectFile, Project } from '../../render/project.js';
import { ProgramNotFoundError } from '../../process/run-process.js';
import { readSceneInfo, type SceneInfo } from '../../render/scene-info.js';
import { sceneInfoCacheDir } from '../../render/scene-info-cache.js';
import type { SceneSettingsFromBytes } from '../../render/scene-info-from-bytes.js';
import type { ApiClient } from '../../client/api-client.js';
import { waitForJob } from '../follow.js';
import { bytes, countsLine, duration } from '../format.js';
import { type SchedulingOptions, addSchedulingOptions, positiveInt, runFields } from '../parse.js';
import { CliError, patientRetry, signedInClient } from '../session.js';
import { downloadResults, exitForJob } from './jobs.js';
import type { MissingBlobsAnswer } from '../../wire/blobs.js';
import type { RenderJobBody } from '../../wire/render.js';

interface RenderOptions extends SchedulingOptions {
  blend?: string;
  frames?: string;
  chunk: number;
  scene?: string;
  format?: string;
  samples?: number;
  resolution?: string;
  percentage?: number;
  instanceType: string;
  name?: string;
  maxAttempts?: number;
  timeout?: number;
  image?: string;
  cold: boolean;
  hold: boolean;
  network: boolean;
  wait: boolean;
  dir?: string;
  json?: boolean;
}


function parseResolution(text: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/i.exec(text.trim());
  if (!m) throw new CliError(`--resolution takes WIDTHxHEIGHT, e.g. 1920x1080, not "${text}"`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** A local copy of the project's .blend to inspect (extracted when the project is a zip). */
async function localBlend(project: Project): Promise<{ path: string; cleanup(): Promise<void> }> {
  const file = project.files.find((f) => f.path === project.blend)!;
  if (file.source.kind === 'fs') return { path: file.source.absPath, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'drover-blend-'));
  const target = join(dir, basename(project.blend));
  const { openProjectFile } = await import('../../render/project.js');
  await pipeline(await openProjectFile(file), createWriteStream(target));
  return { path: target, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ProjectUpload {
  files: { path: string; sha256: string; size: number }[];
  sentFiles: number;
  sentBytes: number;
}

/** Uploads only the (hashed) project files the coordinator does not have from this user. */
async function uploadProject(client: ApiClient, hashed: readonly HashedProjectFile[], quiet: boolean): Promise<ProjectUpload> {
  const { missing } = await client.json<MissingBlobsAnswer>('POST', '/blobs/missing', { hashes: [...new Set(hashed.map((f) => f.sha256))] }, patientRetry('uploading the project'));
  const wanted = new Set(missing);
  let sentFiles = 0;
  let sentBytes = 0;
  const { openProjectFile } = await import('../../render/project.js');
  for (const f of hashed) {
    if (!wanted.delete(f.sha256)) continue;
    await client.uploadStream(f.sha256, () => openProjectFile(f), patientRetry(`uploading ${f.path}`));
    sentFiles++;
    sentBytes += f.size;
  }
  if (!quiet) process.stderr.write(`project: ${hashed.length} file(s); uploaded ${sentFiles} (${bytes(sentBytes)}), ${hashed.length - sentFiles} already stored\n`);
  return { files: hashed.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })), sentFiles, sentBytes };
}

async function waitForPreview(client: ApiClient, jobId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const job = await client.json<JobView>('GET', `/jobs/${jobId}`);
    const status = job.render?.preview?.status;
    if (status && status !== 'pending') return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function registerRenderCommand(program: Command): void {
  addSchedulingOptions(
    program
      .command('render <project>')
      .description('render a Blender project (a .blend, a folder or a .zip) across the farm')
      .option('--blend <path>', 'the .blend inside a folder or zip (found automatically when there is one)')
      .option('--frames <expr>', "frames: 1-250, 1-250:5, 1,5,10-20 (default: the scene's range)")
      .option('--chunk <n>', 'frames per task', positiveInt('--chunk'), 1)
      .option('--scene <name>', 'the scene to render (default: the active one)')
      .option('--format <format>', `image format: ${IMAGE_FORMATS.join(', ')}`)
      .option('--samples <n>', 'render samples', positiveInt('--samples'))
      .option('--resolution <WxH>', 'output resolution')
      .option('--percentage <p>', 'resolution percentage', positiveInt('--percentage'))
      .option('-t, --instance-type <type>', `instance type: ${INSTANCE_TYPES.join(', ')}`, 's')
      .option('-n, --name <name>', 'job name (default: the .blend name)')
      .option('--max-attempts <n>', 'attempts before a task errors', positiveInt('--max-attempts')),
  )
    .option('--timeout <seconds>', 'kill a task that runs longer', positiveInt('--timeout'))
    .option('--image <image>', 'container image with Blender inside')
    .option('--cold', 'one Blender process per task instead of a warm session', false)
    .option('--network', "give Blender network access (render tasks have none by default: Drover brings them the project, and a .blend's Python could reach out)", false)
    .option('--hold', 'create the job without queueing it', false)
    .option('-w, --wait', 'follow the job with a progress bar; exit non-zero unless it is done', false)
    .option('-d, --dir <outdir>', 'with --wait: download the results here')
    .option('--json', 'machine-readable output')
    .action(async (input: string, opts: RenderOptions) => {
      if (!INSTANCE_TYPES.includes(opts.instanceType as never)) throw new CliError(`-t must be one of ${INSTANCE_TYPES.join(', ')}`);
      const format = opts.format?.toUpperCase();
      if (format && !isImageFormat(format)) throw new CliError(`--format must be one of ${IMAGE_FORMATS.join(', ')}, not "${opts.format}"`);
      if (opts.dir && !opts.wait) throw new CliError('-d goes with --wait');
      const quiet = opts.json ?? false;
      let project: Project;
      // Hashed first: the upload needs the hashes, and the .blend's is the key of the scene cache.
      const hashed: HashedProjectFile[] = [];
      const { discoverProject, hashProjectFiles, ProjectError } = await import('../../render/project.js');
      try {
        project = await discoverProject(resolve(input), opts.blend ? { blend: opts.blend } : {});
        for await (const f of hashProjectFiles(project)) hashed.push(f);
      } catch (err) {
        if (err instanceof ProjectError) throw new CliError(err.message);
        throw err;
      }
      const cacheDir = sceneInfoCacheDir();
      const blendSha256 = hashed.find((f) => f.path === project.blend)!.sha256;
      const blend = await localBlend(project);
      let sceneRead: Promise<SceneInfo | null> | null = null;
      let fromBytes: SceneSettingsFromBytes | null;
      try {
        const check = await checkBlendFile(blend.path);
        if (!check.isBlend) throw new CliError(`"${project.blend}" is not a Blender file${check.reason ? ` (${check.reason})` : ''}`);
        // The settings the job needs, from the file's bytes; Blender's look at the file (its
        // external files, for the warnings) starts now and runs beside the upload. The job waits
        // for Blender only when the bytes cannot say the settings: Blender's start (about a
        // second) used to come before the job existed.
        const { readSceneSettingsFromBytes } = await import('../../render/scene-info-from-bytes.js');
        fromBytes = await readSceneSettingsFromBytes(blend.path, opts.scene);
        // Straight to reading the scene: probing `blender --version` first cost half a second.
        sceneRead = readSceneInfo(blend.path, {
          ...(project.kind !== 'zip' ? { projectRoot: project.root } : {}),
          ...(opts.scene ? { scene: opts.scene } : {}),
          ...(cacheDir ? { cache: { dir: cacheDir, blendSha256 } } : {}),
          // Beside the job, at low priority: on a machine that also renders (a farm on one
          // machine) the warnings must not take CPU from the frames. Nothing waits on it but them.
          ...(fromBytes ? { niceness: 19 } : {}),
        }).catch((err: unknown) => {
          if (!(err instanceof ProgramNotFoundError)) throw err;
          if (!opts.frames && !fromBytes) throw new CliError("Blender is not installed here, so the scene's frame range cannot be read: give --frames");
          return null;
        });
      } catch (err) {
        await blend.cleanup();
        throw err;
      }
      // Settled (and the extracted .blend of a zip removed) when Blender is done, however it ended.
      const blenderDone = sceneRead.then(
        () => blend.cleanup(),
        () => blend.cleanup(),
      );
      const warnings: string[] = [];
      const printWarnings = () => {
        if (!quiet) for (const w of warnings.splice(0)) process.stderr.write(`warning: ${w}\n`);
      };
      /** Blender's answer, its warnings kept. Once the job exists, a failure is only said. */
      const blenderSays = async (jobExists: boolean): Promise<SceneInfo | null> => {
        try {
          const info = await sceneRead;
          warnings.push(...(info?.warnings ?? []));
          return info;
        } catch (err) {
          const message = err instanceof CliError ? err.message : `could not read "${project.blend}": ${(err as Error).message}`;
          if (!jobExists) throw new CliError(message);
          warnings.push(`Blender ${message}`);
          return null;
        }
      };
      const shown: string[] = [];
      let client: ApiClient;
      let job: JobView;
      let upload: ProjectUpload;
      let frameCount: number;
      let expression: string;
      try {
        const scene = fromBytes ?? (await blenderSays(false))?.scene;
        for (const s of project.skipped) warnings.push(`left out ${s.path}: ${s.reason}`);
        expression = opts.frames ?? (scene ? `${scene.frameStart}-${scene.frameEnd}${scene.frameStep > 1 ? `:${scene.frameStep}` : ''}` : '');
        try {
          frameCount = parseFrames(expression).length;
        } catch (err) {
          if (err instanceof FrameExpressionError) throw new CliError(err.message);
          throw err;
        }
        let chosenFormat = format as ImageFormat | undefined; // checked by isImageFormat above
        if (!chosenFormat && scene && !isImageFormat(scene.fileFormat)) {
          warnings.push(`the scene writes ${scene.fileFormat}, a movie format; rendering PNG frames instead (choose with --format)`);
          chosenFormat = 'PNG';
        }
        shown.push(...warnings);
        printWarnings();

        client = await signedInClient();
        upload = await uploadProject(client, hashed, quiet);
        job = await client.json<JobView, RenderJobBody>('POST', '/jobs', {
          kind: 'render',
          name: opts.name ?? basename(project.blend, '.blend'),
          project: { files: upload.files.map(({ path, sha256 }) => ({ path, sha256 })), blend: project.blend },
          frames: expression,
          chunk: opts.chunk,
          instanceType: opts.instanceType as InstanceType, // checked against INSTANCE_TYPES above
          start: !opts.hold,
          cold: opts.cold,
          ...(opts.scene ? { scene: opts.scene } : {}),
          ...(chosenFormat ? { format: chosenFormat } : {}),
          ...(opts.samples ? { samples: opts.samples } : {}),
          ...(opts.resolution ? { resolution: parseResolution(opts.resolution) } : {}),
          ...(opts.percentage ? { percentage: opts.percentage } : {}),
          ...(scene ? { fps: scene.fps } : {}),
          ...(scene
            ? {
                sceneSettings: {
                  format: scene.fileFormat,
                  resolution: { width: scene.resolution.x, height: scene.resolution.y },
                  percentage: scene.resolution.percentage,
                  ...(scene.samples ? { samples: scene.samples } : {}),
                },
              }
            : {}),
          ...runFields(opts),
          ...(opts.network ? { network: true } : {}),
        });
      } finally {
        // Neither a Blender process nor its temporary files are left behind by a failure.
        await blenderDone;
      }
      // Blender read the file beside the upload: its warnings come now.
      if (fromBytes) {
        await blenderSays(true);
        shown.push(...warnings);
        printWarnings();
      }
      const summary = { upload: { files: upload.files.length, sentFiles: upload.sentFiles, sentBytes: upload.sentBytes }, warnings: shown };
      if (!opts.wait) {
        if (quiet) console.log(JSON.stringify({ ...job, ...summary }, null, 2));
        else console.log(`created render job ${job.id} "${job.name}": ${frameCount} frame(s) (${formatFrameList(parseFrames(expression))}) in ${job.taskCount} task(s), ${job.status}`);
        return;
      }
      if (!quiet) console.error(`render job ${job.id} "${job.name}": ${frameCount} frame(s) in ${job.taskCount} task(s)`);
      let final = await waitForJob(client, job.id, {
        quiet,
        unit: 'frames',
        progress: (j) => {
          const r = (j as JobView & { render?: { framesDone: number; frameCount: number } }).render;
          return r ? { done: r.framesDone ?? 0, total: r.frameCount } : { done: 0, total: frameCount };
        },
      });
      if (opts.dir) {
        if (final.status === 'done') await waitForPreview(client, job.id);
        const where = await downloadResults(client, job.id, resolve(opts.dir), false);
        if (!quiet) console.error(`results in ${where}`);
        final = await client.json<JobView>('GET', `/jobs/${job.id}`);
      }
      if (quiet) console.log(JSON.stringify({ ...final, ...summary }, null, 2));
      else console.log(`render job ${final.id} ${final.status}: ${countsLine(final.counts)} in ${duration(final.durationMs)}`);
      exitForJob(final);
    });
}
