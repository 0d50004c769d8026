import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBlenderCommand, extensionFor, frameOutputPath, isImageFormat, RENDER_SETUP_PY } from './blender-command.js';

test('a contiguous task renders as a range, everything before -a and the overrides after --', () => {
  const cmd = buildBlenderCommand({
    blendFile: '/p/shot.blend',
    outputDir: '/out/t1',
    frames: [10, 11, 12],
    scene: 'Main',
    format: 'PNG',
    threads: 2,
    overrides: { samples: 16, resolution: [320, 240], percentage: 50 },
  });
  assert.equal(cmd.program, 'blender');
  assert.deepEqual(cmd.args, [
    '-b', '/p/shot.blend', '-noaudio', '--python-exit-code', '1',
    '--scene', 'Main',
    '-o', '/out/t1/frame_#####', '-F', 'PNG', '-x', '1',
    '--python', RENDER_SETUP_PY,
    '-t', '2',
    '-s', '10', '-e', '12', '-j', '1', '-a',
    '--', JSON.stringify({ samples: 16, resolution: [320, 240], percentage: 50, scene: 'Main' }),
  ]);
  assert.deepEqual(cmd.expectedOutputs, ['/out/t1/frame_00010.png', '/out/t1/frame_00011.png', '/out/t1/frame_00012.png']);
});

test('stepped runs use -j, scattered frames use -f, one frame uses -f', () => {
  const tail = (frames: number[]) => {
    const args = buildBlenderCommand({ blendFile: 'a.blend', outputDir: 'o', frames }).args;
    return args.slice(args.indexOf('-t') + 2);
  };
  assert.deepEqual(tail([1, 6, 11]), ['-s', '1', '-e', '11', '-j', '5', '-a', '--', '{}']);
  assert.deepEqual(tail([7, 1, 2]), ['-f', '1,2,7', '--', '{}']);
  assert.deepEqual(tail([4]), ['-f', '4', '--', '{}']);
});

test('options: no format keeps the file format, autoexec, TARGA, custom patterns', () => {
  const plain = buildBlenderCommand({ blendFile: 'a.blend', outputDir: '/o', frames: [1] });
  assert.ok(!plain.args.includes('-F'));
  assert.equal(plain.expectedOutputs, undefined);
  assert.ok(plain.args.includes('-t') && plain.args[plain.args.indexOf('-t') + 1] === '0');
  const tga = buildBlenderCommand({ blendFile: 'a.blend', outputDir: '/o', frames: [1], format: 'TARGA', enableAutoexec: true, filePattern: 'beauty.###', blender: '/opt/blender/blender' });
  assert.equal(tga.program, '/opt/blender/blender');
  assert.equal(tga.args[tga.args.indexOf('-F') + 1], 'TGA');
  assert.ok(tga.args.includes('--enable-autoexec'));
  assert.deepEqual(tga.expectedOutputs, ['/o/beauty.001.tga']);
  assert.throws(() => buildBlenderCommand({ blendFile: 'a.blend', outputDir: '/o', frames: [] }), /at least one frame/);
  assert.throws(() => buildBlenderCommand({ blendFile: 'a.blend', outputDir: '/o', frames: [-1] }), /invalid frame/);
  assert.throws(() => buildBlenderCommand({ blendFile: 'a.blend', outputDir: '/o', frames: [1], filePattern: '../x_#' }), /plain file name/);
});

test('output names as Blender makes them', () => {
  assert.equal(frameOutputPath('/o/frame_#####', 12), '/o/frame_00012');
  assert.equal(frameOutputPath('/o/a##_b###', 7), '/o/a##_b007');
  assert.equal(frameOutputPath('/o/frame_', 7), '/o/frame_0007');
  assert.equal(frameOutputPath('/o/f_##', 1234), '/o/f_1234');
  assert.equal(extensionFor('OPEN_EXR'), '.exr');
  assert.equal(isImageFormat('FFMPEG'), false);
  assert.equal(isImageFormat('JPEG'), true);
});
