// Building blocks of the wire contract: the pieces every area's requests and answers are made of.
// Pure TypeBox, no I/O: the coordinator, the agent, the CLI and (types only) the web app load it.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Requests refuse fields they do not know, so a typo is a 400 rather than a silently ignored option. */
export const strict = { additionalProperties: false } as const;

/** A value or null (OpenAPI 3.0 says `nullable`; TypeBox a union). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A time as the coordinator writes it: ISO-8601 UTC. */
export const Time = Type.String({ description: 'ISO-8601 UTC time' });

export const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'lowercase sha256 hex' });
export const FileRef = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }), sha256: Sha256 }, strict);
export type FileRef = Static<typeof FileRef>;

/** A file a task delivered (or a frame), as task views and completions list them. */
export const StoredFile = Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), sha256: Sha256, size: Type.Integer({ minimum: 0 }) }, strict);
export type StoredFile = Static<typeof StoredFile>;

/** Every failed request answers with this body. */
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
export type ErrorBody = Static<typeof ErrorBody>;
