/**
 * The project's one configuration object. A project writes it in TypeScript (`mlops.config.ts` at
 * the root, typed by {@link defineConfig}); the CDK app, the CLI and the local runner read it
 * through lib/project-config.ts and {@link loadConfig}, so a value is defined and validated in one
 * place. The CDK context key `mlops` may override top-level keys for one synthesis.
 */
import * as z from 'zod';
import { deploymentSchema } from '../lambdas/deployment/contract.js';
import { monitoringSchema } from '../lambdas/drift/config.js';
import { featureViewSchema } from '../lambdas/feature-store/feature-view.js';
import { DEFAULT_MAX_BATCH_INSTANCES } from '../lambdas/serving/contract.js';
import { MAX_SIGNED_INSTANCES } from '../lambdas/serving/request-ids.js';
import { LAMBDA_MB_PER_VCPU } from '../lambdas/serving/serving-env.js';
import { ValidationError } from '../lambdas/shared/errors.js';
import { issuePath } from '../lambdas/shared/validation.js';
import { modelConfigSchema, modelFeatureProblems } from '../lambdas/training/model-config.js';

/** A/B experiments (lib/experiment-check.ts): the scheduled check that reports and acts on verdicts. */
export const experimentsSchema = z.strictObject({
  /**
   * Minutes between checks of the running experiments (a verdict is acted on at most this late;
   * each check reads every running experiment's counters). @default 15
   */
  checkEveryMinutes: z
    .number({ error: 'must be a number of minutes' })
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1')
    .max(1440, 'must be at most 1440 (a day)')
    .default(15),
});
export type ExperimentsConfig = z.output<typeof experimentsSchema>;

/** The inference API (lib/inference-api.ts): one function per served model behind one REST API. */
export const servingSchema = z.strictObject({
  /**
   * How callers authenticate: `iam` (SigV4-signed requests, `execute-api:Invoke` granted to
   * their principal) or `apiKey` (an `x-api-key` header; a usage plan holds the key).
   * @default 'iam'
   */
  auth: z.enum(['iam', 'apiKey'], { error: "must be 'iam' or 'apiKey'" }).default('iam'),
  /** Most instances one predict request may carry. @default 1000 */
  maxBatchInstances: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    // A request id carries each instance's A/B variant (lambdas/serving/request-ids.ts).
    .max(MAX_SIGNED_INSTANCES, `must be at most ${MAX_SIGNED_INSTANCES}`)
    .default(DEFAULT_MAX_BATCH_INSTANCES),
  /**
   * Share of predict requests captured to S3 (feedback is always captured), 0 to 1. The
   * default captures every request, which suits a small or demo project; lower it when
   * traffic grows (capture costs a Firehose record per captured instance).
   * @default 1
   */
  captureSampleRate: z
    .number({ error: 'must be a number' })
    .min(0, 'must be between 0 and 1')
    .max(1, 'must be between 0 and 1')
    .default(1),
  /** Memory of each inference function in MB; LAMBDA_MB_PER_VCPU (1769 MB) is one full vCPU. @default 1769 */
  memoryMb: z
    .number({ error: 'must be a number' })
    .int('must be a whole number of MB')
    .min(128, 'must be at least 128 (Lambda minimum)')
    .max(10_240, 'must be at most 10240 (Lambda maximum)')
    .default(LAMBDA_MB_PER_VCPU),
  /** Stage throttling (and the usage plan's, with API keys): requests per second and burst. */
  throttle: z
    .strictObject({
      /** Steady requests per second across the API. @default 100 */
      rateLimit: z.number({ error: 'must be a number' }).positive('must be positive').default(100),
      /** Requests the API takes at once above the steady rate. @default 200 */
      burstLimit: z
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .positive('must be positive')
        .default(200),
    })
    .prefault({}),
  /**
   * Instances each model's `live` alias keeps initialized (no cold start for them; billed
   * while deployed). @default 0
   */
  provisionedConcurrency: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .default(0),
  /** X-Ray tracing of the API stage (the functions always trace). @default true */
  tracing: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * The models the API serves, by name (each must be in `models`).
   * @default every configured model
   */
  models: z.array(z.string({ error: 'must be a model name' })).optional(),
});

export const mlopsConfigSchema = z
  .object({
    /** CloudFormation stack name. */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must start with a letter and hold only letters, digits and -'),
    /** Days CloudWatch keeps Lambda and state machine logs. */
    logRetentionDays: z.union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)]),
    /**
     * What happens to stateful resources (tables, buckets) when the stack is deleted.
     * `retain` keeps them (production); `destroy` removes them (sandboxes, CI).
     */
    removalPolicy: z.enum(['retain', 'destroy']),
    /** Feature view definitions (see lambdas/feature-store/feature-view.ts). */
    featureViews: z.array(featureViewSchema).default([]),
    /**
     * Models (see lambdas/training/model-config.ts): promotion gates (lambdas/registry/gates.ts),
     * e.g. `{ name: 'churn', gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: 0.8 }],
     * maxArtifactBytes: 50_000_000, maxP95LatencyMs: 40 } }`, and for models this stack trains, task,
     * label, `view:feature` inputs, trainer, split and retraining. A model not listed is ungated.
     */
    models: z.array(modelConfigSchema).default([]),
    /**
     * CloudWatch namespace of every metric the functions emit (and the alarms read).
     * @default 'ServerlessMlops'
     */
    metricsNamespace: z
      .string({ error: 'must be a string' })
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._/#:-]{0,254}$/,
        'must be 1-255 of letters, digits and . _ / # : - (not starting with one of the symbols)',
      )
      .refine((ns) => !ns.startsWith('AWS/'), 'must not start with AWS/ (reserved for AWS services)')
      .default('ServerlessMlops'),
    /** How long the offline bucket keeps what is not the offline store itself (days). */
    storage: z
      .strictObject({
        /** Landed batches (`landing/`), kept after upload; ingestion copies them into the store. @default 7 */
        landingExpirationDays: z.number().int('must be a whole number of days').positive().default(7),
        /** Quarantined rows (`quarantine/`), kept for inspection. @default 90 */
        quarantineExpirationDays: z.number().int('must be a whole number of days').positive().default(90),
        /** Training sets (`datasets/`) move to S3 Standard-IA after this many days (30 at least). @default 30 */
        datasetsInfrequentAccessDays: z
          .number()
          .int('must be a whole number of days')
          .min(30, 'must be at least 30 (S3 Standard-IA minimum)')
          .default(30),
        /** Training sets are deleted after this many days; null keeps them (models cite them). @default null */
        datasetsExpirationDays: z
          .number()
          .int('must be a whole number of days')
          .positive()
          .nullable()
          .default(null),
        /** Overwritten or deleted object versions are kept this long (the bucket is versioned). @default 30 */
        noncurrentVersionExpirationDays: z
          .number()
          .int('must be a whole number of days')
          .positive()
          .default(30),
      })
      .prefault({}),
    /** The inference API (lib/inference-api.ts): one function per served model behind one REST API. */
    serving: servingSchema.prefault({}),
    /**
     * The deployment (canary) workflow (lib/deployment-workflow.ts): traffic steps, bake time,
     * thresholds, watched alarms, approval. See lambdas/deployment/contract.ts.
     */
    deployment: deploymentSchema.prefault({}),
    /** A/B experiments: how often the scheduled check reports and acts on verdicts (lib/experiment-check.ts). */
    experiments: experimentsSchema.prefault({}),
    /**
     * Drift and model-quality monitoring of the served models (lib/drift-monitor.ts): schedule,
     * window, thresholds, serving alarms. See lambdas/drift/config.ts.
     */
    monitoring: monitoringSchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const { datasetsExpirationDays, datasetsInfrequentAccessDays } = config.storage;
    if (datasetsExpirationDays !== null && datasetsExpirationDays <= datasetsInfrequentAccessDays)
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'datasetsExpirationDays'],
        message: 'must be after datasetsInfrequentAccessDays (or null)',
      });
    const names = new Set<string>();
    for (const [i, view] of config.featureViews.entries()) {
      if (names.has(view.name))
        ctx.addIssue({
          code: 'custom',
          path: ['featureViews', i, 'name'],
          message: `duplicates the view name ${view.name}`,
        });
      names.add(view.name);
    }
    const models = new Set<string>();
    for (const [i, model] of config.models.entries()) {
      if (models.has(model.name))
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'name'],
          message: `duplicates the model name ${model.name}`,
        });
      models.add(model.name);
      for (const problem of modelFeatureProblems(model, config.featureViews))
        ctx.addIssue({ code: 'custom', path: ['models', i, ...problem.path], message: problem.message });
    }
    const served = new Set<string>();
    for (const [i, name] of (config.serving.models ?? []).entries()) {
      if (!models.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['serving', 'models', i],
          message: `names no configured model (${name}); add it to models first`,
        });
      else if (served.has(name))
        ctx.addIssue({ code: 'custom', path: ['serving', 'models', i], message: `lists ${name} twice` });
      served.add(name);
    }
  });

export type MlopsConfig = z.output<typeof mlopsConfigSchema>;

/** What a project writes in `mlops.config.ts`: any subset of the configuration, typed. */
export type MlopsConfigInput = Partial<z.input<typeof mlopsConfigSchema>>;

/**
 * Types a project's configuration (`export default defineConfig({...})` in `mlops.config.ts`), so
 * an editor checks feature views and settings as they are written; {@link loadConfig} validates.
 */
export function defineConfig(config: MlopsConfigInput): MlopsConfigInput {
  return config;
}

export const defaultConfig: MlopsConfig = {
  stackName: 'ServerlessMlops',
  logRetentionDays: 30,
  removalPolicy: 'retain',
  featureViews: [],
  models: [],
  metricsNamespace: 'ServerlessMlops',
  storage: {
    landingExpirationDays: 7,
    quarantineExpirationDays: 90,
    datasetsInfrequentAccessDays: 30,
    datasetsExpirationDays: null,
    noncurrentVersionExpirationDays: 30,
  },
  // The schema's defaults, written once there.
  serving: servingSchema.parse({}),
  deployment: deploymentSchema.parse({}),
  experiments: experimentsSchema.parse({}),
  monitoring: monitoringSchema.parse({}),
};

/** The models the inference API serves: `serving.models`, or every configured model. */
export function servedModels(config: MlopsConfig): string[] {
  return config.serving.models ?? config.models.map((m) => m.name);
}

/** One thing wrong with a configuration: the field (views and features by name) and the rule. */
export interface ConfigProblem {
  readonly field: string;
  readonly rule: string;
}

/**
 * A configuration that breaks rules: every problem at once, each naming its field with views,
 * entities and features by name (`config.featureViews.customer.features.spend.min`) where the
 * name is readable, by index otherwise. `field`/`rule` are the first problem's.
 */
export class ConfigValidationError extends ValidationError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0] ?? { field: 'config', rule: 'invalid configuration' };
    super(first.field, first.rule, problems.map((p) => `${p.field}: ${p.rule}`).join('\n'));
    this.name = 'ConfigValidationError';
    this.problems = problems;
  }
}

const READABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** An issue's path with array elements that carry a readable `name` written as that name. */
function namedPath(path: readonly PropertyKey[], input: unknown): string[] {
  const parts: string[] = [];
  let node: unknown = input;
  for (const segment of path) {
    const next: unknown =
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
    const name =
      Array.isArray(node) && next !== null && typeof next === 'object'
        ? (next as { name?: unknown }).name
        : undefined;
    parts.push(typeof name === 'string' && READABLE_NAME.test(name) ? name : String(segment));
    node = next;
  }
  return parts;
}

/** Every problem zod found, named (see {@link ConfigValidationError}). */
export function configProblems(issues: readonly z.core.$ZodIssue[], input: unknown): ConfigProblem[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: issuePath([...namedPath(issue.path, input), key], 'config'),
          rule: 'is not a known field',
        }))
      : [{ field: issuePath(namedPath(issue.path, input), 'config'), rule: issue.message }],
  );
}

/**
 * Merges overrides (e.g. the CDK context key `mlops`) over the defaults and validates the result,
 * reporting every problem at once ({@link ConfigValidationError}).
 */
export function loadConfig(overrides: unknown = {}): MlopsConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new ValidationError('config', 'must be an object of configuration values');
  }
  const merged = { ...defaultConfig, ...overrides };
  const result = mlopsConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  throw new ConfigValidationError(configProblems(result.error.issues, merged));
}
