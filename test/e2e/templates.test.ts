// Open Job Description job templates on a real farm: a bundle with job parameters, an input folder
// uploaded and an output folder collected, a step that waits for another and sees its outputs,
// environments entered once per session (openjd_env) and left at its end, task parameter spaces
// with combination expressions, stdout messages, host requirements, and bad input refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodePixels } from '../../src/render/thumbnails.js';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { BLENDER, makeScene } from '../helpers/scenes.js';

const run = promisify(execFile);

// What the specification's blender-ffmpeg sample does, in our words: Blender renders a frame
// parameter from an uploaded .blend, then ffmpeg encodes the frames the render step wrote.
const BLENDER_FFMPEG = `
specificationVersion: jobtemplate-2023-09
name: "Render {{Param.Frames}}"
parameterDefinitions:
  - {name: BlendFile, type: PATH, objectType: FILE, dataFlow: IN}
  - {name: Frames, type: STRING, default: "1-4"}
  - {name: OutputDir, type: PATH, objectType: DIRECTORY, dataFlow: OUT, default: frames}
steps:
  - name: Render
    parameterSpace:
      taskParameterDefinitions: [{name: Frame, type: INT, range: "{{Param.Frames}}"}]
    script:
      actions:
        onRun:
          command: blender
          args: ["--background", "{{Param.BlendFile}}", "-noaudio", "--render-output", "{{Param.OutputDir}}/frame_####", "--render-format", "PNG", "--use-extension", "1", "--render-frame", "{{Task.Param.Frame}}"]
  - name: Encode
    dependencies: [{dependsOn: Render}]
    script:
      actions:
        onRun:
          command: ffmpeg
          args: ["-y", "-loglevel", "error", "-framerate", "4", "-start_number", "1", "-i", "{{Param.OutputDir}}/frame_%04d.png", "-pix_fmt", "yuv420p", "-c:v", "libx264", "{{Param.OutputDir}}/movie.mp4"]
`;

interface StepJson {
  name: string;
  status: string;
  dependsOn: string[];
  taskCount: number;
  counts: Record<string, number>;
  unschedulable: string | null;
}
interface JobJson {
  id: string;
  name: string;
  kind: string;
  status: string;
  counts: Record<string, number>;
  steps?: StepJson[];
  tasks: { index: number; step: string; status: string; parameters: Record<string, string>; progress: number | null; message: string | null; error: string | null }[];
}

const PIPELINE = `
specificationVersion: jobtemplate-2023-09
name: "Pipeline {{Param.Greeting}}"
parameterDefinitions:
  - name: Frames
    type: STRING
    default: "1-4"
  - name: Greeting
    type: STRING
    default: hello
    allowedValues: [hello, bonjour]
  - name: Scale
    type: FLOAT
    default: 1.5
    minValue: 0
  - name: Source
    type: PATH
    objectType: DIRECTORY
    dataFlow: IN
    default: source
  - name: Out
    type: PATH
    objectType: DIRECTORY
    dataFlow: OUT
    default: out
jobEnvironments:
  - name: Shell
    variables:
      GREETING: "{{Param.Greeting}}"
    script:
      actions:
        onEnter:
          command: bash
          args: ["-c", "echo entering; echo \\"openjd_env: SESSION_MARK=session-$RANDOM$RANDOM\\"; echo openjd_env: DROP_ME=1; echo openjd_unset_env: DROP_ME"]
        onExit:
          command: bash
          args: ["-c", "echo goodbye-from-{{Param.Greeting}}"]
steps:
  - name: Render
    parameterSpace:
      taskParameterDefinitions:
        - name: Frame
          type: INT
          range: "{{Param.Frames}}"
    script:
      actions:
        onRun:
          command: "{{Task.File.Run}}"
          args: ["{{Task.Param.Frame}}"]
      embeddedFiles:
        - name: Run
          type: TEXT
          runnable: true
          data: |
            #!/bin/bash
            set -e
            echo "openjd_progress: 50"
            echo "openjd_status: rendering frame $1"
            echo "mark=$SESSION_MARK drop=\${DROP_ME:-unset}"
            echo "$GREETING $(cat '{{Param.Source}}/words/input.txt') $1 x{{Param.Scale}}" > "{{Param.Out}}/frame_$1.txt"
  - name: Encode
    dependencies:
      - dependsOn: Render
    script:
      actions:
        onRun:
          command: bash
          args: ["-c", "cat {{Param.Out}}/frame_*.txt > {{Param.Out}}/all.txt; ls {{Session.WorkingDirectory}} >/dev/null"]
  - name: Grid
    hostRequirements:
      amounts:
        - name: amount.worker.vcpu
          min: 1
      attributes:
        - name: attr.worker.os.family
          anyOf: [linux]
    parameterSpace:
      taskParameterDefinitions:
        - name: X
          type: INT
          range: [1, 2]
        - name: Y
          type: STRING
          range: [p, q]
        - name: Z
          type: FLOAT
          range: [0.5]
      combination: "(X, Y) * Z"
    script:
      actions:
        onRun:
          command: echo
          args: ["grid {{Task.Param.X}}{{Task.Param.Y}} {{Task.Param.Z}}"]
`;

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'drover-tpl-'));
}

describe('job templates on a real farm', { timeout: 600_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: 1, env: { DROVER_SESSION_IDLE_SECONDS: '2' } });
  });
  after(async () => farm?.stop());

  test('a bundle runs its steps in dependency order, with files flowing in, between steps and out', async () => {
    const bundle = await tempDir();
    await writeFile(join(bundle, 'template.yaml'), PIPELINE);
    await writeFile(join(bundle, 'parameter_values.yaml'), 'parameterValues:\n  - name: Frames\n    value: "1-3"\n  - name: deadline:priority\n    value: 50\n');
    await mkdir(join(bundle, 'source', 'words'), { recursive: true });
    await writeFile(join(bundle, 'source', 'words', 'input.txt'), 'world');

    const check = await farm.cli(['job', 'template', 'check', bundle]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /step "Render": 3 task\(s\)/);
    assert.match(check.stdout, /step "Encode": 1 task\(s\), after "Render"/);
    assert.match(check.stdout, /step "Grid": 2 task\(s\)/);

    const run = await farm.cli(['job', 'submit', bundle, '-p', 'Greeting=bonjour', '-w', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const job = JSON.parse(run.stdout) as JobJson;
    assert.equal(job.status, 'done');
    assert.equal(job.kind, 'template');
    assert.equal(job.name, 'Pipeline bonjour');
    assert.equal(job.counts.done, 6);

    const view = JSON.parse((await farm.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
    assert.deepEqual(
      view.steps!.map((s) => [s.name, s.status, s.taskCount, s.dependsOn]),
      [
        ['Render', 'done', 3, []],
        ['Encode', 'done', 1, ['Render']],
        ['Grid', 'done', 2, []],
      ],
    );
    const render = view.tasks.filter((t) => t.step === 'Render');
    assert.deepEqual(render.map((t) => t.parameters), [{ Frame: '1' }, { Frame: '2' }, { Frame: '3' }]);
    assert.deepEqual(render.map((t) => [t.progress, t.message]), [[50, 'rendering frame 1'], [50, 'rendering frame 2'], [50, 'rendering frame 3']]);
    assert.deepEqual(view.tasks.filter((t) => t.step === 'Grid').map((t) => t.parameters), [{ X: '1', Y: 'p', Z: '0.5' }, { X: '2', Y: 'q', Z: '0.5' }]);
    const text = await farm.cli(['job', 'view', job.id]);
    assert.match(text.stdout, /Encode\s+done\s+.*Render/);

    const out = await tempDir();
    const dl = await farm.cli(['job', 'download-results', job.id, '-d', out]);
    assert.equal(dl.code, 0, dl.stderr);
    const root = join(out, job.id);
    assert.equal(await readFile(join(root, 'outputs', 'Out', 'frame_2.txt'), 'utf8'), 'bonjour world 2 x1.5\n');
    // Encode saw Render's outputs at the same path.
    assert.equal(await readFile(join(root, 'outputs', 'Out', 'all.txt'), 'utf8'), 'bonjour world 1 x1.5\nbonjour world 2 x1.5\nbonjour world 3 x1.5\n');
    assert.deepEqual((await readdir(join(root, 'logs'))).sort(), ['Encode', 'Grid', 'Render']);
    const logs = await Promise.all([1, 2, 3].map((n) => readFile(join(root, 'logs', 'Render', `task-000${n}.stdout.txt`), 'utf8')));
    // One session for the step's consecutive tasks: entered once (the first task's log), the
    // variable it set seen by all, the one it unset by none.
    const marks = logs.map((l) => /mark=(session-\d+) drop=(\w+)/.exec(l));
    assert.ok(marks.every((m) => m && m[2] === 'unset'), logs.join('\n---\n'));
    assert.equal(new Set(marks.map((m) => m![1])).size, 1, 'the three Render tasks shared one session');
    assert.match(logs[0]!, /entering/);
    assert.doesNotMatch(logs[1]!, /entering/);
    assert.match(await readFile(join(root, 'logs', 'Grid', 'task-0002.stdout.txt'), 'utf8'), /grid 2q 0\.5/);
    const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { steps: { name: string }[]; tasks: { step: string; parameters: Record<string, string> }[] };
    assert.deepEqual(index.steps.map((s) => s.name), ['Render', 'Encode', 'Grid']);
    assert.deepEqual(index.tasks[0]!.parameters, { Frame: '1' });
    // The session ends after it has been idle: the environment's onExit runs.
    await farm.agents[0]!.waitForOutput(/goodbye-from-bonjour/, 30_000);
  });

  test('Blender renders a frame parameter, then ffmpeg encodes the frames: pixel-identical to a plain Blender render', async () => {
    const dir = await tempDir();
    const blend = await makeScene(join(dir, 'project'), { frames: [1, 4], resolution: [64, 48], samples: 4 });
    await writeFile(join(dir, 'render.yaml'), BLENDER_FFMPEG);
    const r = await farm.cli(['job', 'submit', join(dir, 'render.yaml'), '-p', `BlendFile=${blend}`, '-w', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    assert.equal(job.status, 'done');
    const out = await tempDir();
    assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const frames = join(out, job.id, 'outputs', 'OutputDir');
    assert.deepEqual((await readdir(frames)).sort(), ['frame_0001.png', 'frame_0002.png', 'frame_0003.png', 'frame_0004.png', 'movie.mp4']);
    const plain = join(dir, 'plain');
    await run(BLENDER, ['-b', blend, '-noaudio', '-o', join(plain, 'frame_####'), '-F', 'PNG', '-x', '1', '-f', '1,4'], { maxBuffer: 64 * 1024 * 1024 });
    for (const n of ['0001', '0004']) {
      const [a, b] = await Promise.all([decodePixels(join(frames, `frame_${n}.png`)), decodePixels(join(plain, `frame_${n}.png`))]);
      assert.ok(a.width === b.width && a.data.equals(b.data), `frame ${n} differs from a plain Blender render`);
    }
    const probe = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', join(frames, 'movie.mp4')]);
    assert.equal(probe.stdout.trim(), '4');
  });

  test('openjd_fail fails its task, and the steps after it are canceled with the reason', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'fail.yaml'),
      `specificationVersion: jobtemplate-2023-09
name: failing
steps:
  - name: Broken
    script:
      actions:
        onRun:
          command: bash
          args: ["-c", "echo 'openjd_fail: the license server said no'; exit 0"]
  - name: After
    dependencies: [{dependsOn: Broken}]
    script:
      actions:
        onRun: {command: "true"}
`,
    );
    const run = await farm.cli(['job', 'submit', join(dir, 'fail.yaml'), '--max-attempts', '1', '-w', '--json']);
    assert.notEqual(run.code, 0);
    const job = JSON.parse(run.stdout) as JobJson;
    assert.equal(job.status, 'error');
    const view = JSON.parse((await farm.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
    assert.equal(view.tasks[0]!.status, 'error');
    assert.match(view.tasks[0]!.error!, /openjd_fail: the license server said no/);
    assert.equal(view.tasks[1]!.status, 'canceled');
    assert.match(view.tasks[1]!.error!, /step "Broken" did not finish/);
    assert.deepEqual(view.steps!.map((s) => s.status), ['error', 'canceled']);
  });

  test('a step whose host requirements no agent meets says so, and runs when one joins', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'gpu.json'),
      JSON.stringify({
        specificationVersion: 'jobtemplate-2023-09',
        name: 'needs a tier',
        steps: [
          { name: 'Anywhere', script: { actions: { onRun: { command: 'true' } } } },
          { name: 'Special', hostRequirements: { attributes: [{ name: 'attr.custom.tier', anyOf: ['gold'] }] }, script: { actions: { onRun: { command: 'true' } } } },
        ],
      }),
    );
    const created = await farm.cli(['job', 'submit', join(dir, 'gpu.json'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as JobJson).id;
    const waiting = await eventually(async () => {
      const v = JSON.parse((await farm.cli(['job', 'view', id, '--json'])).stdout) as JobJson;
      return v.steps![0]!.status === 'done' ? v : null;
    });
    assert.equal(waiting.steps![1]!.status, 'queued');
    assert.match(waiting.steps![1]!.unschedulable!, /no connected agent meets the host requirements of step "Special": needs attr\.custom\.tier to be one of gold/);
    const gold = await startAgent(farm.server, { name: 'gold-agent', extraArgs: ['--label', 'tier=gold'] });
    try {
      const done = await eventually(async () => {
        const v = JSON.parse((await farm.cli(['job', 'view', id, '--json'])).stdout) as JobJson & { tasks: { agent: string | null }[] };
        return v.status === 'done' ? v : null;
      });
      assert.equal((done.tasks[1] as { agent: string | null }).agent, 'gold-agent');
    } finally {
      await gold.kill('SIGINT');
    }
  });

  test('bad templates and values are refused with their path and reason, and nothing is stored', async () => {
    const dir = await tempDir();
    const write = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return join(dir, name);
    };
    const head = 'specificationVersion: jobtemplate-2023-09\nname: bad\n';
    const cases: [string, RegExp][] = [
      [`${head}steps:\n  - name: A\n    colour: red\n    script: {actions: {onRun: {command: "true"}}}\n`, /steps\[0\]\.colour: unknown key "colour"/],
      [`${head}steps:\n  - name: A\n    dependencies: [{dependsOn: Nope}]\n    script: {actions: {onRun: {command: "true"}}}\n`, /depends on "Nope", which is not a step/],
      [
        `${head}steps:\n  - name: A\n    dependencies: [{dependsOn: B}]\n    script: {actions: {onRun: {command: "true"}}}\n  - name: B\n    dependencies: [{dependsOn: A}]\n    script: {actions: {onRun: {command: "true"}}}\n`,
        /cycle: "A" → "B" → "A"/,
      ],
      [`${head}steps:\n  - name: A\n    script: {actions: {onRun: {command: "{{Param.Missing}}"}}}\n`, /steps\[0\]\.script\.actions\.onRun\.command: \{\{Param\.Missing\}\} names a parameter that does not exist/],
      [`specificationVersion: jobtemplate-2030-01\nname: x\nsteps: []\n`, /not supported/],
    ];
    for (const [text, expected] of cases) {
      const r = await farm.cli(['job', 'template', 'check', await write('t.yaml', text)]);
      assert.notEqual(r.code, 0, text);
      assert.match(r.stderr, expected);
    }
    const ranged = await write('ranged.yaml', `${head}parameterDefinitions:\n  - {name: N, type: INT, minValue: 1, maxValue: 10, default: 2}\nsteps:\n  - name: A\n    parameterSpace:\n      taskParameterDefinitions: [{name: I, type: INT, range: "1-{{Param.N}}"}]\n    script: {actions: {onRun: {command: "true"}}}\n`);
    const before = (JSON.parse((await farm.cli(['job', 'list', '--json'])).stdout) as unknown[]).length;
    const outside = await farm.cli(['job', 'submit', ranged, '-p', 'N=11']);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /parameter N: 11 is above the maximum 10/);
    // The coordinator checks as well: a direct POST with a too-big space is refused with the limit.
    const token = await farm.adminToken();
    const huge = await api(farm.url, token, 'POST', '/jobs', {
      kind: 'template',
      template: { specificationVersion: 'jobtemplate-2023-09', name: 'huge', steps: [{ name: 'A', parameterSpace: { taskParameterDefinitions: [{ name: 'I', type: 'INT', range: '1-200000' }] }, script: { actions: { onRun: { command: 'true' } } } }] },
    });
    assert.equal(huge.status, 400);
    assert.match(JSON.stringify(huge.body), /limit of 100000 tasks per job|more than 100000 values/);
    const unknown = await api(farm.url, token, 'POST', '/jobs', { kind: 'template', template: { specificationVersion: 'jobtemplate-2023-09', name: 'x', steps: [{ name: 'A', script: { actions: { onRun: { command: 'true' } } } }] }, parameters: { Nope: 1 } });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body), /no parameter \\"Nope\\"/);
    const after = (JSON.parse((await farm.cli(['job', 'list', '--json'])).stdout) as unknown[]).length;
    assert.equal(after, before, 'no job was stored');
  });
});
