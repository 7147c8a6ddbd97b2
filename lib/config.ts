/**
 * The project's one configuration object. A project writes it in TypeScript (`mlops.config.ts` at
 * the root, typed by {@link defineConfig}); the CDK app, the CLI and the local runner read it
 * through lib/project-config.ts and {@link loadConfig}, so a value is defined and validated in one
 * place. The CDK context key `mlops` may override top-level keys for one synthesis.
 */
import * as z from 'zod';
import { featureViewSchema } from '../lambdas/feature-store/feature-view.js';
import { ValidationError } from '../lambdas/shared/errors.js';
import { issuePath } from '../lambdas/shared/validation.js';

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
  })
  .strict()
  .superRefine((config, ctx) => {
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
};

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
