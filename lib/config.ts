/**
 * The project's one configuration object. A project writes it in TypeScript (`mlops.config.ts` at
 * the root, typed by {@link defineConfig}); the CDK app, the CLI and the local runner read it
 * through lib/project-config.ts and {@link loadConfig}, so a value is defined and validated in one
 * place. The CDK context key `mlops` may override top-level keys for one synthesis.
 */
import * as z from 'zod';
import { featureViewSchema } from '../lambdas/feature-store/feature-view.js';
import { ValidationError } from '../lambdas/shared/errors.js';
import { parseOrThrow } from '../lambdas/shared/validation.js';

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

/**
 * Merges overrides (e.g. the CDK context key `mlops`) over the defaults and validates the result,
 * naming the offending field when a value breaks a rule.
 */
export function loadConfig(overrides: unknown = {}): MlopsConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new ValidationError('config', 'must be an object of configuration values');
  }
  const merged = { ...defaultConfig, ...overrides };
  return parseOrThrow(mlopsConfigSchema, merged, 'config');
}
