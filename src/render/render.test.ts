// End to end with the real Blender and ffmpeg: a task rendered through buildBlenderCommand gives
// the same pixels as a plain `blender -b FILE -o … -f N`; its output parses into saved frames;
// frames make thumbnails and an MP4 preview.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { BLENDER, makeScene } from '../../test/helpers/scenes.js';
import { buildBlenderCommand, type RenderTaskSpec } from './blender-command.js';
import { BlenderOutputParser, type BlenderEvent } from './blender-output.js';
import { makePreviewVideo, streamPreviewVideo } from './preview.js';
import { runProcess } from '../process/run-process.js';
import { decodePixels, makeThumbnails } from './thumbnails.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-render-'));
test.after(() => rm(dir, { recursive: true, force: true }));
const project = path.join(dir, 'project');
const blend = await makeScene(project, { texture: true, frames: [1, 10], resolution: [64, 48], samples: 4 });

/** Run a built command, parsing its output live as the agent will. */
async function renderTask(spec: Omit<RenderTaskSpec, 'blender'>) {
  const command = buildBlenderCommand({ ...spec, blender: BLENDER });
  const parser = new BlenderOutputParser();
  const events: BlenderEvent[] = [];
  const result = await runProcess(command.program, command.args, {
    timeoutMs: 180_000,
    onLine: (line) => events.push(...parser.parseLine(line)),
  });
  events.push(...parser.end());
  return { command, result, events };
}

async function plainRender(file: string, outDir: string, frames: string) {
  const result = await runProcess(BLENDER, ['-b', file, '-o', path.join(outDir, 'frame_#####'), '-f', frames], { timeoutMs: 180_000 });
  assert.equal(result.code, 0, result.stdout.slice(-2000));
}

async function assertSamePixels(a: string, b: string) {
  const [pa, pb] = await Promise.all([decodePixels(a), decodePixels(b)]);
  assert.deepEqual([pa.width, pa.height], [pb.width, pb.height]);
  assert.ok(pa.data.equals(pb.data), `${a} and ${b} differ`);
}

const plainDir = path.join(dir, 'plain');
const plainDone = plainRender(blend, plainDir, '1,2,3,5,7,8');

test('a task rendered with the built command matches a plain Blender render, pixel for pixel', async () => {
  // 1-3 is a run (-s 1 -e 3 -j 1 -a); 5,7,8 is not (-f 5,7,8). One thread vs Blender's default.
  const range = await renderTask({ blendFile: blend, outputDir: path.join(dir, 'task-a'), frames: [1, 2, 3], format: 'PNG', threads: 1 });
  const list = await renderTask({ blendFile: blend, outputDir: path.join(dir, 'task-b'), frames: [5, 7, 8], format: 'PNG', threads: 2 });
  await plainDone;
  assert.ok(range.command.args.includes('-a') && list.command.args.includes('-f'));

  for (const { command, result, events } of [range, list]) {
    assert.equal(result.code, 0, result.stdout.slice(-2000));
    const saved = events.filter((e) => e.type === 'saved');
    assert.deepEqual(saved.map((e) => e.path), command.expectedOutputs, 'the parser reports each saved frame, in order');
    assert.ok(saved.every((e) => e.elapsedMs !== null && e.elapsedMs >= 0));
    assert.deepEqual(events.filter((e) => e.type === 'error'), []);
    for (const out of command.expectedOutputs!) await assertSamePixels(out, path.join(plainDir, path.basename(out)));
  }
  assert.deepEqual(range.events.filter((e) => e.type === 'saved').map((e) => e.frame), [1, 2, 3]);
  assert.deepEqual(list.events.filter((e) => e.type === 'saved').map((e) => e.frame), [5, 7, 8]);
  const progress = range.events.filter((e) => e.type === 'progress' && e.samples === 4);
  assert.ok(progress.length >= 3, 'sample progress is reported');

  // The scene moves: frames really differ.
  const [f1, f2] = await Promise.all([decodePixels(path.join(plainDir, 'frame_00001.png')), decodePixels(path.join(plainDir, 'frame_00002.png'))]);
  assert.ok(!f1.data.equals(f2.data));
});

test('denoising is turned off only where this Blender cannot denoise, and then matches the undenoised render', async () => {
  const denoised = await makeScene(path.join(dir, 'denoise'), { texture: true, frames: [1, 10], resolution: [64, 48], samples: 4, denoising: true });
  const task = await renderTask({ blendFile: denoised, outputDir: path.join(dir, 'task-denoise'), frames: [1], format: 'PNG' });
  assert.equal(task.result.code, 0, task.result.stdout.slice(-2000));
  const oidn = !task.events.some((e) => e.type === 'notice' && /denoising turned off/.test(e.message));
  if (oidn) return; // a Blender with OpenImageDenoise renders the file as it is: nothing to compare
  await plainDone;
  await assertSamePixels(task.command.expectedOutputs![0]!, path.join(plainDir, 'frame_00001.png'));
});

test('overrides change samples, resolution and format; EXR gets thumbnails through ffmpeg', async () => {
  const { command, result, events } = await renderTask({
    blendFile: blend,
    outputDir: path.join(dir, 'task-exr'),
    frames: [4],
    format: 'OPEN_EXR',
    overrides: { samples: 2, resolution: [40, 30], percentage: 50 },
  });
  assert.equal(result.code, 0, result.stdout.slice(-2000));
  assert.deepEqual(command.expectedOutputs, [path.join(dir, 'task-exr', 'frame_00004.exr')]);
  assert.ok(events.some((e) => e.type === 'notice' && /samples=2 resolution=40x30@50% format=OPEN_EXR/.test(e.message)));
  assert.ok(events.some((e) => e.type === 'progress' && e.samples === 2));

  const thumbs = await makeThumbnails(command.expectedOutputs![0]!, path.join(dir, 'thumbs'));
  assert.ok(thumbs.ok, !thumbs.ok ? thumbs.reason : '');
  assert.equal(thumbs.convertedWith, 'ffmpeg');
  assert.deepEqual([thumbs.thumbnail.width, thumbs.thumbnail.height], [20, 15], '40x30 at 50%, never enlarged');
  const noFfmpeg = await makeThumbnails(command.expectedOutputs![0]!, path.join(dir, 'thumbs2'), { ffmpeg: path.join(dir, 'no-ffmpeg') });
  assert.deepEqual(noFfmpeg.ok, false);
  assert.match(!noFfmpeg.ok ? noFfmpeg.reason : '', /ffmpeg, which could convert it, is not installed/);
});

test('a missing scene or a movie output format is refused before rendering', async () => {
  const missing = await renderTask({ blendFile: blend, outputDir: path.join(dir, 'task-noscene'), frames: [1], format: 'PNG', scene: 'Nope' });
  assert.notEqual(missing.result.code, 0);
  assert.ok(missing.events.some((e) => e.type === 'error' && /no scene named 'Nope'; scenes: Main/.test(e.message)));

  const movieBlend = await makeScene(path.join(dir, 'movie'), { fileFormat: 'FFMPEG' });
  const movie = await renderTask({ blendFile: movieBlend, outputDir: path.join(dir, 'task-movie'), frames: [1] });
  assert.notEqual(movie.result.code, 0);
  assert.ok(movie.events.some((e) => e.type === 'error' && /writes a movie \(FFMPEG\)/.test(e.message)));
  assert.deepEqual(await readdir(path.join(dir, 'task-movie')).catch(() => []), [], 'nothing rendered');
});

test('the project folder renders anywhere: its texture is found by relative path', async () => {
  await plainDone;
  const moved = path.join(dir, 'moved', 'project');
  await cp(project, moved, { recursive: true });
  const movedBlend = path.join(moved, 'scene.blend');
  await plainRender(movedBlend, path.join(dir, 'moved-out'), '2');
  await assertSamePixels(path.join(dir, 'moved-out', 'frame_00002.png'), path.join(plainDir, 'frame_00002.png'));
  // …and the texture matters: without it Cycles paints the cube magenta.
  await rm(path.join(moved, 'textures'), { recursive: true });
  await plainRender(movedBlend, path.join(dir, 'moved-missing'), '2');
  const [withTexture, without] = await Promise.all([
    decodePixels(path.join(plainDir, 'frame_00002.png')),
    decodePixels(path.join(dir, 'moved-missing', 'frame_00002.png')),
  ]);
  assert.ok(!withTexture.data.equals(without.data));
});

test('thumbnails: a 320px thumbnail and a 1280px preview, JPEG or WebP', async () => {
  const big = path.join(dir, 'big.png');
  await sharp({ create: { width: 1600, height: 1200, channels: 4, background: { r: 200, g: 80, b: 20, alpha: 0.5 } } }).png().toFile(big);
  const jpeg = await makeThumbnails(big, path.join(dir, 'thumbs-big'));
  assert.ok(jpeg.ok);
  assert.deepEqual([jpeg.thumbnail.width, jpeg.thumbnail.height, jpeg.preview.width, jpeg.preview.height], [320, 240, 1280, 960]);
  assert.deepEqual([...(await readFile(jpeg.thumbnail.path)).subarray(0, 3)], [0xff, 0xd8, 0xff]);
  assert.equal(path.basename(jpeg.preview.path), 'big.preview.jpg');
  const webp = await makeThumbnails(big, path.join(dir, 'thumbs-webp'), { format: 'webp', thumbnailWidth: 100, baseName: 'f1' });
  assert.ok(webp.ok);
  assert.equal(path.basename(webp.thumbnail.path), 'f1.thumb.webp');
  assert.equal((await sharp(webp.thumbnail.path).metadata()).width, 100);
  // A frame exactly as wide as the thumbnail is one image at both sizes: made once, one file.
  const edge = path.join(dir, 'edge.png');
  await sharp({ create: { width: 320, height: 180, channels: 3, background: { r: 20, g: 80, b: 200 } } }).png().toFile(edge);
  const once = await makeThumbnails(edge, path.join(dir, 'thumbs-edge'));
  assert.ok(once.ok);
  assert.equal(once.preview.path, once.thumbnail.path);
  assert.deepEqual([once.preview.width, once.preview.height], [320, 180]);

  const text = path.join(dir, 'not-an-image.png');
  await cp(blend, text);
  const bad = await makeThumbnails(text, path.join(dir, 'thumbs-bad'));
  assert.equal(bad.ok, false);
});

async function probe(file: string) {
  const result = await runProcess('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,pix_fmt,width,height,nb_read_frames,avg_frame_rate', '-of', 'json', file]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { streams: Array<Record<string, string | number>> }).streams[0]!;
}

test('an H.264 preview of the rendered frames', async () => {
  await plainDone;
  const frames = (await readdir(plainDir)).sort().map((f) => path.join(plainDir, f));
  assert.equal(frames.length, 6);
  const out = path.join(dir, 'preview', 'preview.mp4');
  const video = await makePreviewVideo(frames, out, { fps: 24 });
  assert.ok(video.ok, !video.ok ? video.reason : '');
  assert.equal(video.frameCount, 6);
  const stream = await probe(out);
  assert.deepEqual(
    [stream.codec_name, stream.pix_fmt, stream.width, stream.height, stream.nb_read_frames, stream.avg_frame_rate],
    ['h264', 'yuv420p', 64, 48, '6', '24/1'],
  );

  // Odd sizes are made even; fps can be fractional (NTSC 24/1.001).
  const odd = [];
  await mkdir(path.join(dir, 'odd'), { recursive: true });
  for (let i = 0; i < 3; i++) {
    const p = path.join(dir, 'odd', `f${i}.png`);
    await sharp({ create: { width: 33, height: 25, channels: 3, background: { r: i * 100, g: 50, b: 50 } } }).png().toFile(p);
    odd.push(p);
  }
  const oddOut = path.join(dir, 'preview', 'odd.mp4');
  const oddVideo = await makePreviewVideo(odd, oddOut, { fps: 24 / 1.001 });
  assert.ok(oddVideo.ok, !oddVideo.ok ? oddVideo.reason : '');
  const oddStream = await probe(oddOut);
  assert.deepEqual([oddStream.width, oddStream.height, oddStream.nb_read_frames], [32, 24, '3']);

  const absent = await makePreviewVideo(frames, path.join(dir, 'x.mp4'), { fps: 24, ffmpeg: path.join(dir, 'no-ffmpeg') });
  assert.deepEqual(absent, { ok: false, reason: 'ffmpeg is not installed, so there is no preview video' });
  assert.equal((await makePreviewVideo([], out, { fps: 24 })).ok, false);
});

test('a preview of frames still arriving is the same video; types ffmpeg cannot pipe are linked once all are here', async () => {
  await plainDone;
  const frames = (await readdir(plainDir)).sort().map((f) => path.join(plainDir, f));
  const whole = path.join(dir, 'stream', 'whole.mp4');
  assert.ok((await makePreviewVideo(frames, whole, { fps: 24 })).ok);
  // As the preview task sees them: cache files named by hash, no extension, arriving one by one.
  const cached = path.join(dir, 'stream', 'cache');
  await mkdir(cached, { recursive: true });
  const arriving = frames.map(async (f, i) => {
    await new Promise((r) => setTimeout(r, 40 * i));
    const target = path.join(cached, `frame-${i}`);
    await copyFile(f, target);
    return target;
  });
  const streamed = path.join(dir, 'stream', 'streamed.mp4');
  const video = await streamPreviewVideo({ extension: '.png', count: frames.length, paths: arriving }, streamed, { fps: 24 });
  assert.ok(video.ok, !video.ok ? video.reason : '');
  assert.deepEqual(await readFile(streamed), await readFile(whole), 'the same bytes as from the whole sequence');

  // TGA has no pipe reader in ffmpeg: linked into a numbered sequence, same frames.
  const tga = path.join(dir, 'stream', 'tga');
  await mkdir(tga, { recursive: true });
  const made = await runProcess('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=24', '-frames:v', '3', path.join(tga, '%d.tga')]);
  assert.equal(made.code, 0, made.stderr);
  const tgaOut = path.join(dir, 'stream', 'tga.mp4');
  const tgaVideo = await streamPreviewVideo({ extension: '.tga', count: 3, paths: ['1', '2', '3'].map((n) => Promise.resolve(path.join(tga, `${n}.tga`))) }, tgaOut, { fps: 24 });
  assert.ok(tgaVideo.ok, !tgaVideo.ok ? tgaVideo.reason : '');
  assert.equal((await probe(tgaOut)).nb_read_frames, '3');

  // A frame that cannot be fetched fails the preview (its task is retried), it is not a preview made of fewer frames.
  const lost = Promise.reject(new Error('frame 2 could not be fetched'));
  lost.catch(() => undefined);
  await assert.rejects(streamPreviewVideo({ extension: '.png', count: 3, paths: [Promise.resolve(frames[0]!), lost, Promise.resolve(frames[2]!)] }, path.join(dir, 'stream', 'lost.mp4'), { fps: 24 }), /frame 2 could not be fetched/);
});
