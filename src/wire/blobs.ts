// Content-addressed uploads: which files the coordinator lacks, and blobs by their sha256.
import { Type, type Static } from '@sinclair/typebox';
import { Sha256, strict } from './common.js';

export const MissingBlobsBody = Type.Object({ hashes: Type.Array(Sha256, { maxItems: 100_000 }) }, strict);
export const ShaParams = Type.Object({ sha256: Sha256 }, strict);

/** POST /blobs/missing: the hashes of those files the coordinator does not have. */
export const MissingBlobsAnswer = Type.Object({ missing: Type.Array(Sha256) });
export type MissingBlobsAnswer = Static<typeof MissingBlobsAnswer>;
