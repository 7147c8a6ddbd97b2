/**
 * A model as `mlops.config.ts` declares it (`models[]`): what it predicts (task, label), from what
 * (`view:feature` references), how it is trained (trainer and its parameters, split, window), what
 * it must meet (gates), and what retrains it (schedule, drift alarm, new data). Validated by field
 * like the feature views (lib/config.ts); {@link modelFeatureProblems} checks every reference
 * against the configured views, so a model naming an unknown feature stops synthesis.
 *
 * A model with only `name` and `gates` is a registry-only model (registered by an outside trainer);
 * `task`, `label` and `features` come together and make it a trained one.
 *
 * Plain code: no AWS SDK, so the CDK app, the CLI, the local runner and the Lambdas share it.
 */
import * as z from 'zod';
import type { FeatureType, FeatureView } from '../feature-store/feature-view.js';
import { modelGatesSchema } from '../registry/gates.js';
import { modelNameSchema } from '../registry/model-version.js';
import { gbdtParamsSchema } from './gbdt-params.js';
import { linearParamsSchema } from './linear/linear-model.js';

export const MODEL_TASKS = ['binary', 'multiclass', 'regression'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];

/** `view:feature`, both identifiers (the same rule as feature views' names). */
const FEATURE_REF = /^[a-z][a-z0-9_]{0,62}:[a-z][a-z0-9_]{0,62}$/;
const featureRef = z
  .string({ error: 'must be a string' })
  .regex(FEATURE_REF, 'must be view:feature (each 1-63 of a-z 0-9 _, starting with a letter)');

const fraction = (rule: string) => z.number({ error: rule }).gt(0, rule).lt(1, rule);
const count = (rule: string) => z.number({ error: rule }).int(rule).positive(rule);
const nonNegative = (rule: string) => z.number({ error: rule }).min(0, rule);

/**
 * Logistic (binary, softmax for multiclass) or linear regression with L2, solved exactly; the
 * params are the trainer's own schema (lambdas/training/linear/linear-model.ts).
 */
export const linearTrainerSchema = z.strictObject({
  algorithm: z.literal('linear'),
  params: linearParamsSchema.prefault({}),
});

/**
 * Gradient-boosted trees on histogram bins; the params are the trainer's own schema
 * (lambdas/training/gbdt-params.ts) without what the model decides: the task and class count
 * (from `task` and the label), the validation share and the seed (from `split`).
 */
export const gbdtTrainerSchema = z.strictObject({
  algorithm: z.literal('gbdt'),
  params: gbdtParamsSchema
    .omit({ task: true, numClasses: true, validationFraction: true, seed: true })
    .prefault({}),
});

/** A training job on SageMaker with the user's image; it must write `model.onnx` to its output. */
export const sagemakerTrainerSchema = z.strictObject({
  algorithm: z.literal('sagemaker'),
  /** ECR image URI of the training container. */
  image: z
    .string({ error: 'must be an ECR image URI' })
    .regex(
      /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})?$/,
      'must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag])',
    ),
  /** @default 'ml.m5.xlarge' */
  instanceType: z
    .string()
    .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type like ml.m5.xlarge')
    .default('ml.m5.xlarge'),
  instanceCount: count('must be a positive whole number').max(100).default(1),
  volumeSizeGb: count('must be a positive whole number').max(16_384).default(30),
  maxRuntimeSeconds: count('must be a positive whole number')
    .max(28 * 86_400)
    .default(86_400),
  /** Passed to the job as strings (SageMaker's rule). */
  hyperparameters: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,256}$/, 'hyperparameter names must be 1-256 of A-Z a-z 0-9 _ . -'),
      z.union([z.string().max(2500), z.number(), z.boolean()]),
    )
    .default({}),
});

export const trainerSchema = z.discriminatedUnion(
  'algorithm',
  [linearTrainerSchema, gbdtTrainerSchema, sagemakerTrainerSchema],
  { error: 'algorithm must be linear, gbdt or sagemaker' },
);

/** A seeded hyperparameter search over the trainer's params. */
export const searchSchema = z.strictObject({
  /** Candidate values per parameter (the grid, or what random sampling draws from). */
  space: z.record(
    z.string(),
    z
      .array(z.union([z.number(), z.string(), z.boolean()]))
      .min(1)
      .max(100),
  ),
  /** `grid` tries every combination; `random` draws `samples` of them by `seed`. @default 'grid' */
  strategy: z.enum(['grid', 'random']).default('grid'),
  samples: count('must be a positive whole number').max(1000).optional(),
  /** Candidates trained at once. @default 4 */
  parallelism: count('must be a positive whole number').max(40).default(4),
});

export const modelConfigSchema = z
  .strictObject({
    name: modelNameSchema,
    description: z.string().max(4096).default(''),
    /** What it predicts; with `label` and `features` it makes the model a trained one. */
    task: z.enum(MODEL_TASKS, { error: `must be one of ${MODEL_TASKS.join(', ')}` }).optional(),
    /**
     * `view:feature` of the label: every row of that view in the training window is one training
     * example (entity, event time, label), joined point-in-time with the features.
     */
    label: featureRef.optional(),
    /** Binary tasks: the label value that counts as positive. @default true (bool), 1 (int64) */
    positiveClass: z.union([z.string(), z.number(), z.boolean()]).optional(),
    /** `view:feature` inputs, in the model's input order. */
    features: z
      .array(featureRef)
      .min(1, 'must list at least one view:feature')
      .max(1000, 'must list at most 1000 features')
      .refine((refs) => new Set(refs).size === refs.length, 'must not repeat a feature')
      .optional(),
    /** @default { algorithm: 'gbdt' } with its default params */
    trainer: trainerSchema.prefault({ algorithm: 'gbdt' }),
    split: z
      .strictObject({
        /** Share of examples held out for evaluation and gates. @default 0.2 */
        testFraction: fraction('must be a number in (0, 1)').default(0.2),
        /** Share of the rest used for early stopping and search. @default 0.1 */
        validationFraction: fraction('must be a number in (0, 1)').default(0.1),
        /** Seeds the split (by a hash of entity and event time) and the trainer. @default 42 */
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1)
          .default(42),
      })
      .prefault({}),
    /** Days of labels (back from the run's time) a training run reads. @default 365 */
    windowDays: count('must be a positive whole number of days').max(36_500).default(365),
    /** `view:feature` attributes the evaluation slices metrics and fairness gaps by. */
    slices: z.array(featureRef).max(10).default([]),
    search: searchSchema.optional(),
    gates: modelGatesSchema,
    /** The candidate must beat the re-scored champion on the primary metric by at least this. @default 0 */
    championMinDelta: nonNegative('must be a number >= 0').default(0),
    retraining: z
      .strictObject({
        /** EventBridge schedule expression (`rate(7 days)`, `cron(0 3 * * ? *)`). */
        schedule: z
          .string()
          .regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression: rate(...) or cron(...)')
          .optional(),
        /** Retrain when one of this model's drift or quality alarms enters ALARM. @default true */
        onDrift: z.boolean().default(true),
        /** Retrain when this many rows were ingested for its views since its last training. */
        newDataRows: count('must be a positive whole number').optional(),
      })
      .prefault({}),
  })
  .superRefine((model, ctx) => {
    const trained = [model.task, model.label, model.features].filter((v) => v !== undefined).length;
    if (trained !== 0 && trained !== 3)
      for (const field of ['task', 'label', 'features'] as const)
        if (model[field] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'is required with task, label and features (a trained model names all three)',
          });
    if (model.label !== undefined && model.features?.includes(model.label))
      ctx.addIssue({ code: 'custom', path: ['features'], message: 'must not include the label' });
    if (model.search?.strategy === 'random' && model.search.samples === undefined)
      ctx.addIssue({ code: 'custom', path: ['search', 'samples'], message: 'is required for random search' });
  });

export type ModelConfigInput = z.input<typeof modelConfigSchema>;
export type ModelConfig = z.output<typeof modelConfigSchema>;

/** A model that the training workflow trains (it names task, label and features). */
export type TrainedModelConfig = ModelConfig & {
  readonly task: ModelTask;
  readonly label: string;
  readonly features: readonly string[];
};

export function isTrained(model: ModelConfig): model is TrainedModelConfig {
  return model.task !== undefined && model.label !== undefined && model.features !== undefined;
}

export interface ModelConfigProblem {
  /** Path under the model (e.g. `['features', 3]`). */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const LABEL_TYPES: Record<ModelTask, readonly FeatureType[]> = {
  binary: ['bool', 'int64', 'string'],
  multiclass: ['int64', 'string'],
  regression: ['float64', 'int64'],
};

/**
 * Every reference of a trained model checked against the configured views: unknown views and
 * features, a label whose type does not suit the task (a string label needs `categories`; binary
 * ones need exactly two, or a `positiveClass` among them).
 */
export function modelFeatureProblems(
  model: ModelConfig,
  views: readonly Pick<FeatureView, 'name' | 'features'>[],
): ModelConfigProblem[] {
  const problems: ModelConfigProblem[] = [];
  const byName = new Map(views.map((v) => [v.name, v]));
  const resolve = (ref: string, path: (string | number)[]) => {
    const [viewName, featureName] = ref.split(':') as [string, string];
    const view = byName.get(viewName);
    if (view === undefined) {
      problems.push({ path, message: `names unknown feature view ${viewName}` });
      return undefined;
    }
    const feature = view.features.find((f) => f.name === featureName);
    if (feature === undefined)
      problems.push({ path, message: `names unknown feature ${featureName} of view ${viewName}` });
    return feature;
  };
  for (const [i, ref] of (model.features ?? []).entries()) resolve(ref, ['features', i]);
  for (const [i, ref] of model.slices.entries()) resolve(ref, ['slices', i]);
  if (model.label !== undefined && model.task !== undefined) {
    const label = resolve(model.label, ['label']);
    if (label !== undefined) {
      const allowed = LABEL_TYPES[model.task];
      if (!allowed.includes(label.type))
        problems.push({
          path: ['label'],
          message: `is ${label.type}; a ${model.task} label must be ${allowed.join(' or ')}`,
        });
      else if (label.type === 'string' && (label.categories?.length ?? 0) === 0)
        problems.push({
          path: ['label'],
          message: 'is a string feature without categories: list its classes',
        });
      else if (model.task === 'binary' && label.type === 'string') {
        const classes = label.categories ?? [];
        if (
          model.positiveClass === undefined
            ? classes.length !== 2
            : !classes.includes(String(model.positiveClass))
        )
          problems.push({
            path: ['positiveClass'],
            message: `must be one of the label's categories (${classes.join(', ')})`,
          });
      }
    }
  }
  return problems;
}
