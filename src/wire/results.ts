// A job's results index (GET /jobs/:id/results): every file of the download and where it goes,
// which `drover job download-results` and the zip follow.
import { Type, type Static } from '@sinclair/typebox';
import { Sha256 } from './common.js';

export const ResultFileEntry = Type.Object({
  path: Type.String({ description: "the file's place under `<job id>/` in the download" }),
  sha256: Sha256,
  size: Type.Integer(),
});
export type ResultFileEntry = Static<typeof ResultFileEntry>;

export const ResultsIndex = Type.Object({
  jobId: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  files: Type.Array(ResultFileEntry, { description: 'every file of the download, in order' }),
  steps: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), name: Type.String(), dependsOn: Type.Array(Type.String()), taskCount: Type.Integer() }), { description: 'template jobs: every step, in template order' })),
  tasks: Type.Array(
    Type.Object({
      index: Type.Integer(),
      id: Type.String(),
      input: Type.String(),
      status: Type.String(),
      attempts: Type.Integer(),
      folder: Type.String(),
      // Template jobs: the task's step and parameter values.
      step: Type.Optional(Type.String()),
      parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
      files: Type.Array(ResultFileEntry, { description: "this task's files, relative to its folder (script jobs) or to the job (render logs)" }),
    }),
  ),
});
export type ResultsIndex = Static<typeof ResultsIndex>;
