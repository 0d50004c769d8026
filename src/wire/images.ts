// Container images: the names a user gives to image references, one of them the default.
import { Type, type Static } from '@sinclair/typebox';
import { strict, Time } from './common.js';

// Lengths here; the exact grammar of names and refs is checked by the service (one message for CLI and web).
export const AddImageBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    ref: Type.String({ minLength: 1, maxLength: 500 }),
    default: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type AddImageBody = Static<typeof AddImageBody>;

export const ImageNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

export const ImageView = Type.Object({
  name: Type.String(),
  ref: Type.String({ description: 'what podman pulls or runs, e.g. localhost/tools:1' }),
  default: Type.Boolean({ description: "the image of the owner's jobs that name none" }),
  createdAt: Time,
});
export type ImageView = Static<typeof ImageView>;

export const ImageList = Type.Object({ images: Type.Array(ImageView) });
export type ImageList = Static<typeof ImageList>;
