// Users, sign-in and API tokens: what the web app's sign-in and account pages and `drover login`
// send and receive.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, strict, Time } from './common.js';

export const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, strict);
export type LoginBody = Static<typeof LoginBody>;
export const CreateUserBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }), admin: Type.Optional(Type.Boolean()) },
  strict,
);
export const UserNameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const UserTokenParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export const ChangePasswordBody = Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, strict);
export const UpdateUserBody = Type.Object(
  {
    admin: Type.Optional(Type.Boolean()),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    // One JSON-schema type list, not anyOf: the request validator coerces types, and null would be coerced into a number.
    maxCores: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 1_000_000, description: "the most cores the user's running tasks may hold together; null removes the cap" })),
    monthlyCoreHours: Type.Optional(Type.Unsafe<number | null>({ type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1e9, description: 'core-hours per calendar month (UTC); null removes the budget' })),
    overBudget: Type.Optional(Type.Union([Type.Literal('hold'), Type.Literal('stop')], { description: 'once the budget is spent: hold (no new task starts, the default) or stop (running tasks are stopped too)' })),
  },
  { ...strict, minProperties: 1 },
);

export const CreateApiTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 366 * 86400, description: 'without it the token lasts until revoked' })),
  },
  strict,
);
/** A named token by its id (`k_…`) or its name. */
export const TokenRefParams = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

/** A user as every answer shows one (GET /auth/me, the user list, a created user). */
export const UserView = Type.Object({ id: Type.String(), name: Type.String(), admin: Type.Boolean(), createdAt: Time });
export type UserView = Static<typeof UserView>;

/** A user's limits (`drover user set --max-cores/--monthly-core-hours/--over-budget`) and their use against them. */
export const UserQuotaView = Type.Object({
  maxCores: Nullable(Type.Integer()),
  monthlyCoreHours: Nullable(Type.Number()),
  overBudget: Type.Union([Type.Literal('hold'), Type.Literal('stop')]),
  runningCores: Type.Number({ description: "cores the user's running tasks hold now" }),
  monthCoreSeconds: Type.Number({ description: 'core-seconds used this calendar month (UTC), running attempts included' }),
  budgetSpent: Type.Boolean(),
});
export type UserQuotaView = Static<typeof UserQuotaView>;
/** A user as admins see them: with their limits and use. */
export const UserWithQuota = Type.Composite([UserView, Type.Object({ quota: UserQuotaView })]);
export type UserWithQuota = Static<typeof UserWithQuota>;

export const UserList = Type.Object({ users: Type.Array(UserWithQuota) });
export type UserList = Static<typeof UserList>;

/** POST /auth/login: the session token (also set as the HttpOnly cookie) and who signed in. */
export const LoginAnswer = Type.Object({ token: Type.String(), user: UserView });
export type LoginAnswer = Static<typeof LoginAnswer>;

/** A named API token as listed (its secret is shown once, when it is made). */
export const ApiTokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Time,
  expiresAt: Nullable(Time),
  current: Type.Boolean({ description: 'whether this request came with it' }),
});
export type ApiTokenView = Static<typeof ApiTokenView>;

/** POST /tokens: the token made, with its secret (shown this once). */
export const CreatedApiToken = Type.Composite([ApiTokenView, Type.Object({ token: Type.String({ description: 'the secret: shown once, never again' }) })]);
export type CreatedApiToken = Static<typeof CreatedApiToken>;

export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiTokenView) });
export type ApiTokenList = Static<typeof ApiTokenList>;

/** GET /users/:name/tokens: live sign-ins and CLI logins (`name` null) and named API tokens. */
export const UserTokenList = Type.Object({ tokens: Type.Array(Type.Composite([Type.Omit(ApiTokenView, ['name']), Type.Object({ name: Nullable(Type.String()) })])) });
export type UserTokenList = Static<typeof UserTokenList>;
