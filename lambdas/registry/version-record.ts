/**
 * The parts of a complete model version record beyond its model artifact: artifacts by role, input
 * signature, output kind and structured lineage, with the rule that reads records written before
 * they existed. Plain code (zod only, no AWS SDK).
 */
import * as z from 'zod';
import { FEATURE_TYPES } from '../feature-store/feature-view.js';

/** Artifact roles a version may carry besides its model (more roles may be added, never renamed). */
export const ARTIFACT_ROLES = ['model', 'evaluationReport', 'referenceProfile', 'modelCard'] as const;
export type ArtifactRole = (typeof ARTIFACT_ROLES)[number];

export const sha256Schema = z
  .string({ error: 'must be a string' })
  .regex(/^[a-f0-9]{64}$/, 'must be a lowercase hex SHA-256 digest (64 characters)');

export const artifactRefSchema = z.strictObject({
  key: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 bytes'),
  sha256: sha256Schema,
});

/** Artifacts besides the model (which is the request's `artifact`), each checked like the model. */
export const extraArtifactsSchema = z
  .strictObject({
    evaluationReport: artifactRefSchema.optional(),
    referenceProfile: artifactRefSchema.optional(),
    modelCard: artifactRefSchema.optional(),
  })
  .default({});

const name = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 _, not starting with a digit');

/** Feature names, types and order the model takes, and the feature view each comes from. */
export const signatureSchema = z.strictObject({
  inputs: z
    .array(
      z.strictObject({
        name,
        type: z.enum(FEATURE_TYPES, { error: `must be one of ${FEATURE_TYPES.join(', ')}` }),
        featureView: z
          .string()
          .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a feature view name')
          .optional(),
      }),
    )
    .min(1, 'must list at least one input')
    .max(2000, 'must list at most 2000 inputs')
    .refine(
      (inputs) => new Set(inputs.map((i) => i.name)).size === inputs.length,
      'input names must be unique',
    ),
});

const label = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters');

/** What the model outputs. */
export const outputSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('binary'),
      positiveClass: z.union([label, z.number()], { error: 'must be a string or a number' }),
      threshold: z
        .number({ error: 'must be a finite number' })
        .min(0, 'must be from 0 to 1')
        .max(1, 'must be from 0 to 1'),
    }),
    z.strictObject({
      kind: z.literal('multiclass'),
      classes: z
        .array(label)
        .min(2, 'must list at least two classes')
        .max(10_000, 'must list at most 10000 classes')
        .refine((c) => new Set(c).size === c.length, 'class labels must be unique'),
    }),
    z.strictObject({ kind: z.literal('regression') }),
  ],
  { error: 'kind must be binary, multiclass or regression' },
);

const shortText = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters');

/**
 * Where a version came from. The named fields are structured; any other key holds a string (the
 * free-form lineage of records registered before, e.g. `datasetHash`).
 */
export const lineageSchema = z
  .object({
    trainingSet: z
      .strictObject({ manifestKey: artifactRefSchema.shape.key, sha256: sha256Schema })
      .optional(),
    featureViews: z
      .array(z.strictObject({ name: shortText, definitionHash: shortText }))
      .max(100, 'must list at most 100 feature views')
      .optional(),
    codeVersion: shortText.optional(),
    configFingerprint: shortText.optional(),
    trainer: z.strictObject({ name: shortText, version: shortText }).optional(),
    runId: shortText.optional(),
  })
  .catchall(z.string({ error: 'must be a string' }).max(2048, 'must be at most 2048 characters'))
  .refine((l) => Object.keys(l).length <= 50, 'must hold at most 50 entries')
  .default({});

export type InputSignature = z.output<typeof signatureSchema>;
export type ModelOutput = z.output<typeof outputSchema>;
export type ModelLineage = z.output<typeof lineageSchema>;

/** An artifact as the record stores it. */
export interface StoredArtifactRef {
  readonly bucket: string;
  readonly key: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /** S3 object version the digest was checked against (absent in records registered before). */
  readonly s3VersionId?: string;
}

export type VersionArtifacts = { readonly model: StoredArtifactRef } & {
  readonly [R in Exclude<ArtifactRole, 'model'>]?: StoredArtifactRef;
};

/** `createdBy` of records registered before the registry recorded it. */
export const UNKNOWN_PRINCIPAL = 'unknown';
