// The Open Job Description job template (jobtemplate-2023-09) as Drover supports it: its shape as
// TypeBox schemas (unknown keys refused), and the TypeScript types that follow from them. Which
// parts of the specification are not supported is said in docs/templates.md.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

export const SPECIFICATION_VERSION = 'jobtemplate-2023-09';

/** Letters, digits and underscore, not starting with a digit (§7.1). */
export const Identifier = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', minLength: 1, maxLength: 64 });
/** No C0/C1 control characters (§9). */
const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';
const Description = Type.String({ minLength: 1, maxLength: 2048 });
const Label = Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL });

const CancelationMethod = Type.Union([
  Type.Object({ mode: Type.Literal('TERMINATE') }, strict),
  Type.Object({ mode: Type.Literal('NOTIFY_THEN_TERMINATE'), notifyPeriodInSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })) }, strict),
]);

export const Action = Type.Object(
  {
    command: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    timeout: Type.Optional(Type.Integer({ minimum: 1 })),
    cancelation: Type.Optional(CancelationMethod),
  },
  strict,
);
export type Action = Static<typeof Action>;

export const EmbeddedFile = Type.Object(
  {
    name: Identifier,
    type: Type.Literal('TEXT'),
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^/\\\\\\u0000]+$' })),
    runnable: Type.Optional(Type.Boolean()),
    data: Type.String({ minLength: 1 }),
  },
  strict,
);
export type EmbeddedFile = Static<typeof EmbeddedFile>;

export const Environment = Type.Object(
  {
    name: Label,
    description: Type.Optional(Description),
    script: Type.Optional(
      Type.Object(
        {
          actions: Type.Object({ onEnter: Action, onExit: Type.Optional(Action) }, strict),
          embeddedFiles: Type.Optional(Type.Array(EmbeddedFile, { minItems: 1 })),
        },
        strict,
      ),
    ),
    variables: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 }), Type.String({ maxLength: 2048 }))),
  },
  strict,
);
export type Environment = Static<typeof Environment>;

const UserInterface = (controls: readonly string[], extra: Record<string, TSchema> = {}) =>
  Type.Optional(
    Type.Object(
      {
        control: Type.Optional(Type.Union(controls.map((c) => Type.Literal(c)))),
        label: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        groupLabel: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        ...extra,
      },
      strict,
    ),
  );

const common = { name: Identifier, description: Type.Optional(Description) };
const FileFilter = Type.Object({ label: Type.String({ minLength: 1 }), patterns: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }) }, strict);

/** Job parameter definitions by type (§2.1–2.4); `type` picks the schema. */
export const JOB_PARAMETER_SCHEMAS = {
  STRING: Type.Object(
    {
      ...common,
      type: Type.Literal('STRING'),
      default: Type.Optional(Type.String()),
      allowedValues: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
      minLength: Type.Optional(Type.Integer({ minimum: 0 })),
      maxLength: Type.Optional(Type.Integer({ minimum: 1 })),
      userInterface: UserInterface(['LINE_EDIT', 'MULTILINE_EDIT', 'DROPDOWN_LIST', 'CHECK_BOX', 'HIDDEN']),
    },
    strict,
  ),
  PATH: Type.Object(
    {
      ...common,
      type: Type.Literal('PATH'),
      default: Type.Optional(Type.String()),
      allowedValues: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
      minLength: Type.Optional(Type.Integer({ minimum: 0 })),
      maxLength: Type.Optional(Type.Integer({ minimum: 1 })),
      objectType: Type.Optional(Type.Union([Type.Literal('FILE'), Type.Literal('DIRECTORY')])),
      dataFlow: Type.Optional(Type.Union([Type.Literal('NONE'), Type.Literal('IN'), Type.Literal('OUT'), Type.Literal('INOUT')])),
      userInterface: UserInterface(['CHOOSE_INPUT_FILE', 'CHOOSE_OUTPUT_FILE', 'CHOOSE_DIRECTORY', 'DROPDOWN_LIST', 'HIDDEN'], {
        fileFilters: Type.Optional(Type.Array(FileFilter)),
        fileFilterDefault: Type.Optional(FileFilter),
      }),
    },
    strict,
  ),
  INT: Type.Object(
    {
      ...common,
      type: Type.Literal('INT'),
      default: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      allowedValues: Type.Optional(Type.Array(Type.Union([Type.Integer(), Type.String()]), { minItems: 1 })),
      minValue: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      maxValue: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      userInterface: UserInterface(['SPIN_BOX', 'DROPDOWN_LIST', 'HIDDEN'], { singleStepDelta: Type.Optional(Type.Integer({ minimum: 1 })) }),
    },
    strict,
  ),
  FLOAT: Type.Object(
    {
      ...common,
      type: Type.Literal('FLOAT'),
      default: Type.Optional(Type.Union([Type.Number(), Type.String()])),
      allowedValues: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.String()]), { minItems: 1 })),
      minValue: Type.Optional(Type.Union([Type.Number(), Type.String()])),
      maxValue: Type.Optional(Type.Union([Type.Number(), Type.String()])),
      userInterface: UserInterface(['SPIN_BOX', 'DROPDOWN_LIST', 'HIDDEN'], {
        decimals: Type.Optional(Type.Integer({ minimum: 0 })),
        singleStepDelta: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
      }),
    },
    strict,
  ),
} as const;
export type JobParameterType = keyof typeof JOB_PARAMETER_SCHEMAS;
export type JobParameterDefinition = { [K in JobParameterType]: Static<(typeof JOB_PARAMETER_SCHEMAS)[K]> }[JobParameterType];

const RangeList = Type.Array(Type.Union([Type.Integer(), Type.Number(), Type.String()]), { minItems: 1, maxItems: 1024 });
/** Task parameter definitions by type (§3.4.1). */
export const TASK_PARAMETER_SCHEMAS = {
  INT: Type.Object({ name: Identifier, type: Type.Literal('INT'), range: Type.Union([RangeList, Type.String({ minLength: 1 })]) }, strict),
  FLOAT: Type.Object({ name: Identifier, type: Type.Literal('FLOAT'), range: RangeList }, strict),
  STRING: Type.Object({ name: Identifier, type: Type.Literal('STRING'), range: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1, maxItems: 1024 }) }, strict),
  PATH: Type.Object({ name: Identifier, type: Type.Literal('PATH'), range: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1, maxItems: 1024 }) }, strict),
} as const;
export type TaskParameterType = keyof typeof TASK_PARAMETER_SCHEMAS;
export type TaskParameterDefinition = { [K in TaskParameterType]: Static<(typeof TASK_PARAMETER_SCHEMAS)[K]> }[TaskParameterType];

const CapabilityName = (kind: 'amount' | 'attr') => Type.String({ minLength: 1, maxLength: 100, pattern: `^([A-Za-z_][A-Za-z0-9_]*:)?${kind}(\\.[A-Za-z_][A-Za-z0-9_]*)+$` });
export const HostRequirements = Type.Object(
  {
    amounts: Type.Optional(
      Type.Array(Type.Object({ name: CapabilityName('amount'), min: Type.Optional(Type.Number({ minimum: 0 })), max: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) }, strict), { minItems: 1 }),
    ),
    attributes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: CapabilityName('attr'),
            anyOf: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 50 })),
            allOf: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 50 })),
          },
          strict,
        ),
        { minItems: 1 },
      ),
    ),
  },
  strict,
);
export type HostRequirements = Static<typeof HostRequirements>;

/** The step with its task parameters left as they came (checked by type in validate.ts). */
export const Step = Type.Object(
  {
    name: Label,
    description: Type.Optional(Description),
    dependencies: Type.Optional(Type.Array(Type.Object({ dependsOn: Type.String({ minLength: 1 }) }, strict), { minItems: 1 })),
    stepEnvironments: Type.Optional(Type.Array(Environment, { minItems: 1 })),
    hostRequirements: Type.Optional(HostRequirements),
    parameterSpace: Type.Optional(
      Type.Object(
        {
          taskParameterDefinitions: Type.Array(Type.Object({ name: Type.Unknown(), type: Type.Unknown() }), { minItems: 1, maxItems: 16 }),
          combination: Type.Optional(Type.String({ minLength: 1, maxLength: 1280 })),
        },
        strict,
      ),
    ),
    script: Type.Object({ actions: Type.Object({ onRun: Action }, strict), embeddedFiles: Type.Optional(Type.Array(EmbeddedFile, { minItems: 1 })) }, strict),
  },
  strict,
);
export type Step = Omit<Static<typeof Step>, 'parameterSpace'> & {
  parameterSpace?: { taskParameterDefinitions: TaskParameterDefinition[]; combination?: string };
};

export const JobTemplateSchema = Type.Object(
  {
    specificationVersion: Type.String(),
    $schema: Type.Optional(Type.String()),
    extensions: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z_0-9]{3,128}$' }), { minItems: 1 })),
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Description),
    parameterDefinitions: Type.Optional(Type.Array(Type.Object({ name: Type.Unknown(), type: Type.Unknown() }), { minItems: 1, maxItems: 50 })),
    jobEnvironments: Type.Optional(Type.Array(Environment, { minItems: 1 })),
    steps: Type.Array(Step, { minItems: 1 }),
  },
  strict,
);

export interface JobTemplate {
  specificationVersion: typeof SPECIFICATION_VERSION;
  $schema?: string;
  name: string;
  description?: string;
  parameterDefinitions?: JobParameterDefinition[];
  jobEnvironments?: Environment[];
  steps: Step[];
}
