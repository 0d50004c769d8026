import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deliveryTriesOf, jobRequirementsOf, jobSpecOf, labelsOf, templateTaskSpecOf } from './json-columns.js';

describe('JSON columns', () => {
  it('reads a job spec as its own kind, and refuses it as another kind', () => {
    const row = { kind: 'template' as const, spec: JSON.stringify({ steps: [{ name: 'a' }] }) };
    assert.equal(jobSpecOf(row, 'template').steps[0]!.name, 'a');
    assert.throws(() => jobSpecOf(row, 'render'), /a template job's spec read as a render job's/);
  });

  it('reads absent requirements as null and empty label columns as no labels', () => {
    assert.equal(jobRequirementsOf({ requirements: null }), null);
    assert.deepEqual(jobRequirementsOf({ requirements: '{"gpus":2}' }), { gpus: 2 });
    assert.deepEqual(labelsOf(''), {});
    assert.deepEqual(labelsOf('{"zone":"a"}'), { zone: 'a' });
  });

  it('reads task specs and delivery tries as written', () => {
    assert.deepEqual(templateTaskSpecOf('{"step":1,"stepName":"b","parameters":{"F":"1"}}'), { step: 1, stepName: 'b', parameters: { F: '1' } });
    assert.deepEqual(deliveryTriesOf({ tries: '[{"time":"t","status":500,"error":"e"}]' }), [{ time: 't', status: 500, error: 'e' }]);
  });
});
