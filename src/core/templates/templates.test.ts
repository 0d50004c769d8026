import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCombination, combinationColumns, combinationPoints, combinationSize } from './combination.js';
import { expandTemplate } from './expand.js';
import { resolveFormatString, mapLookup } from './format-string.js';
import { TemplateError } from './problems.js';
import { checkTemplate, templateProblems } from './validate.js';

const base = () => ({
  specificationVersion: 'jobtemplate-2023-09',
  name: 'Render {{Param.Scene}}',
  parameterDefinitions: [
    { name: 'Scene', type: 'STRING', default: 'main', allowedValues: ['main', 'alt'] },
    { name: 'Frames', type: 'STRING', default: '1-4' },
    { name: 'Samples', type: 'INT', default: 16, minValue: 1, maxValue: 4096 },
    { name: 'Out', type: 'PATH', objectType: 'DIRECTORY', dataFlow: 'OUT', default: 'out' },
  ],
  steps: [
    {
      name: 'Render',
      parameterSpace: { taskParameterDefinitions: [{ name: 'Frame', type: 'INT', range: '{{Param.Frames}}' }] },
      script: { actions: { onRun: { command: 'echo', args: ['{{Task.Param.Frame}}', '{{Param.Out}}', '{{Param.Samples}}'] } } },
    },
    {
      name: 'Encode',
      dependencies: [{ dependsOn: 'Render' }],
      script: { actions: { onRun: { command: '{{Task.File.Run}}' } }, embeddedFiles: [{ name: 'Run', type: 'TEXT', runnable: true, data: 'ls {{Param.Out}}' }] },
    },
  ],
});

function problemsOf(doc: unknown): string[] {
  return templateProblems(doc).map((p) => `${p.path}: ${p.message}`);
}

test('a valid template expands into steps and tasks, with job parameters resolved', () => {
  const t = checkTemplate(base());
  const job = expandTemplate(t, { Frames: '1-10:3', Scene: 'alt' });
  assert.equal(job.name, 'Render alt');
  assert.equal(job.taskCount, 5);
  assert.deepEqual(job.steps[0]!.tasks, [{ Frame: '1' }, { Frame: '4' }, { Frame: '7' }, { Frame: '10' }]);
  assert.deepEqual(job.steps[1]!.dependsOn, [0]);
  assert.deepEqual(job.steps[1]!.tasks, [{}]);
  assert.equal(job.parameters.Samples!.value, '16');
});

test('bad templates are refused with the path and a plain reason', () => {
  const unknownKey = base() as Record<string, unknown>;
  (unknownKey.steps as Record<string, unknown>[])[0]!.bogus = 1;
  assert.match(problemsOf(unknownKey).join('\n'), /steps\[0\]\.bogus: unknown key "bogus"/);

  const missingDep = base();
  missingDep.steps[1]!.dependencies = [{ dependsOn: 'Rendr' }];
  assert.match(problemsOf(missingDep).join('\n'), /steps\[1\]\.dependencies\[0\]\.dependsOn: step "Encode" depends on "Rendr", which is not a step/);

  const cycle = base();
  (cycle.steps[0] as Record<string, unknown>).dependencies = [{ dependsOn: 'Encode' }];
  assert.match(problemsOf(cycle).join('\n'), /cycle: "Render" → "Encode" → "Render"/);

  const badRef = base();
  badRef.steps[0]!.script.actions.onRun.args = ['{{Param.Nope}}'];
  assert.match(problemsOf(badRef).join('\n'), /steps\[0\]\.script\.actions\.onRun\.args\[0\]: \{\{Param\.Nope\}\} names a parameter that does not exist/);

  const badTaskRef = base();
  badTaskRef.steps[1]!.script.embeddedFiles![0]!.data = '{{Task.Param.Frame}}';
  assert.match(problemsOf(badTaskRef).join('\n'), /steps\[1\]\.script\.embeddedFiles\[0\]\.data: \{\{Task\.Param\.Frame\}\} names a task value/);

  assert.match(problemsOf({ ...base(), specificationVersion: 'jobtemplate-2099-01' }).join(), /not supported/);
  assert.match(problemsOf({ ...base(), extensions: ['TASK_CHUNKING'] }).join(), /TASK_CHUNKING.*not supported/);

  const badDefault = base();
  badDefault.parameterDefinitions[2]!.default = 0;
  assert.match(problemsOf(badDefault).join(), /parameterDefinitions\[2\]: its default does not fit: 0 is below the minimum 1/);

  const badType = base();
  (badType.parameterDefinitions[0] as Record<string, unknown>).type = 'BLOB';
  assert.match(problemsOf(badType).join(), /parameterDefinitions\[0\]\.type: job parameter type "BLOB"/);

  const wrongKind = base() as Record<string, unknown>;
  wrongKind.name = 123;
  assert.match(problemsOf(wrongKind).join(), /^name: expected string/);
});

test('parameter values outside their constraints, unknown parameters and the task limit are refused', () => {
  const t = checkTemplate(base());
  assert.throws(() => expandTemplate(t, { Samples: 0 }), /parameter Samples: 0 is below the minimum 1/);
  assert.throws(() => expandTemplate(t, { Samples: 'many' }), /expects an integer/);
  assert.throws(() => expandTemplate(t, { Scene: 'other' }), /not one of the allowed values/);
  assert.throws(() => expandTemplate(t, { Nope: 1 }), /no parameter "Nope"/);
  assert.throws(
    () => expandTemplate(t, { Frames: '1-200000' }),
    (err: unknown) => err instanceof TemplateError && /more than 100000 values|more than the farm's limit of 100000/.test(err.message),
  );
  assert.throws(() => expandTemplate(t, { Frames: '1-50' }, { maxTasks: 20 }), /limit of 20 tasks per job|more than 20 values/);
});

test('combination expressions: products, zips, and length mismatches', () => {
  const counts = new Map([['A', 3], ['B', 3], ['C', 2]]);
  const points = (s: string) => [...combinationPoints(parseCombination(s), counts)].map((p) => [...p].map(([k, v]) => `${k}${v}`).join(''));
  assert.deepEqual(points('A * C'), ['A0C0', 'A0C1', 'A1C0', 'A1C1', 'A2C0', 'A2C1']);
  assert.deepEqual(points('(A, B)'), ['A0B0', 'A1B1', 'A2B2']);
  assert.deepEqual(points('(A, B) * C'), ['A0B0C0', 'A0B0C1', 'A1B1C0', 'A1B1C1', 'A2B2C0', 'A2B2C1']);
  assert.throws(() => combinationSize(parseCombination('(A, C)'), counts), /3 and 2 values/);
  assert.throws(() => parseCombination('A * (B,'), /expected|ends/);
});

test('format strings resolve references and refuse unknown ones', () => {
  assert.equal(resolveFormatString('a {{ Param.X }} b {{Task.Param.F}}', mapLookup({ 'Param.X': '1', 'Task.Param.F': '7' })), 'a 1 b 7');
  assert.throws(() => resolveFormatString('{{Param.Y}}', mapLookup({})), /names no value/);
  assert.throws(() => resolveFormatString('{{ Param.X', mapLookup({})), /never closed/);
});

test('the column expansion of a combination matches its points, in order', () => {
  const counts = new Map([['A', 3], ['B', 3], ['C', 2], ['D', 4]]);
  for (const source of ['A', 'A * C', '(A, B) * C', 'C * (A, B)', '(A, B) * C * D', 'D * (A, B * C) ', '(D, C * C2)'.replace(' * C2', ' * C')]) {
    const expr = parseCombination(source);
    let size: number;
    try {
      size = combinationSize(expr, counts);
    } catch {
      continue;
    }
    const { columns } = combinationColumns(expr, counts);
    const points = [...combinationPoints(expr, counts)];
    assert.equal(points.length, size, source);
    points.forEach((p, i) => {
      for (const [name, v] of p) assert.equal(columns.get(name)![i], v, `${source} point ${i} ${name}`);
    });
  }
});
