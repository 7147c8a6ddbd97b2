/**
 * The model registry's data model and input rules. Plain code: no AWS SDK, so the CLI, the local
 * runner and the Lambdas share it.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { ItemTooLargeError, ValidationError } from '../shared/errors.js';
import { DYNAMODB_ITEM_LIMIT_BYTES, itemSize } from '../shared/item-size.js';
import { artifactKey, artifactPrefix, REGISTRY_ITEM } from '../shared/layout.js';
import { parseOrThrow } from '../shared/validation.js';
import {
  type ArtifactRole,
  artifactRefSchema,
  extraArtifactsSchema,
  type InputSignature,
  lineageSchema,
  type ModelLineage,
  type ModelOutput,
  outputSchema,
  signatureSchema,
  UNKNOWN_PRINCIPAL,
  type VersionArtifacts,
} from './version-record.js';

/** Lifecycle stages of a model version. New versions start in `None`. */
export const MODEL_STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type ModelStage = (typeof MODEL_STAGES)[number];

/**
 * Model names are used in S3 keys, metric dimensions, Lambda alias and SageMaker job names, so they
 * follow the strictest of those: a DNS label.
 */
export const MODEL_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MODEL_NAME_RULE =
  'must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen';

export const modelNameSchema = z
  .string({ error: 'must be a string' })
  .regex(MODEL_NAME_PATTERN, MODEL_NAME_RULE);

const keyName = (what: string) =>
  z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/, `${what} names must be 1-128 of A-Z a-z 0-9 _ . : / -`);

/**
 * A number DynamoDB can store: finite, and zero or of magnitude from 1e-130 to below 1e126 (it
 * refuses others with an untyped error after everything else was checked).
 */
const finiteNumber = z
  .number({ error: 'must be a finite number' })
  .refine(
    (n) => n === 0 || (Math.abs(n) >= 1e-130 && Math.abs(n) < 1e126),
    'must be 0 or of magnitude from 1e-130 to below 1e126 (what DynamoDB stores)',
  );

/**
 * Most tags and metrics a version may carry together: each is a search-index item written in the
 * registration transaction, which also writes the head, the version, its token, its catalog and
 * stage items, and DynamoDB caps a transaction at 100 actions (the rest is headroom).
 */
export const MAX_INDEXED_TAGS_AND_METRICS = 90;

export const registerModelVersionSchema = z
  .strictObject({
    modelName: modelNameSchema,
    /** The model artifact (role `model`). */
    artifact: artifactRefSchema,
    /** Artifacts of the other roles, each checked like the model. */
    artifacts: extraArtifactsSchema,
    signature: signatureSchema.optional(),
    output: outputSchema.optional(),
    metrics: z
      .record(keyName('metric'), finiteNumber)
      .refine(
        (m) => Object.keys(m).length <= MAX_INDEXED_TAGS_AND_METRICS,
        `must hold at most ${MAX_INDEXED_TAGS_AND_METRICS} metrics`,
      )
      .default({}),
    params: z
      .record(
        keyName('param'),
        z.union([z.string().max(4096, 'must be at most 4096 characters'), finiteNumber, z.boolean()], {
          error: 'must be a string, a finite number or a boolean',
        }),
      )
      .refine((p) => Object.keys(p).length <= 500, 'must hold at most 500 params')
      .default({}),
    tags: z
      .record(keyName('tag'), z.string().max(256, 'must be at most 256 characters'))
      .refine((t) => Object.keys(t).length <= 50, 'must hold at most 50 tags')
      .default({}),
    lineage: lineageSchema,
    description: z.string().max(4096, 'must be at most 4096 characters').default(''),
    /**
     * Idempotency token: registering again with the same token returns the version the first call
     * created instead of allocating a new one (a retried workflow step registers once).
     */
    clientToken: z
      .string({ error: 'must be a string' })
      .regex(
        /^[^\s\p{Cc}]{1,256}$/u,
        'must be 1-256 characters without whitespace or control characters (an execution ARN fits)',
      )
      .optional(),
  })
  .superRefine((request, context) => {
    const tags = Object.keys(request.tags).length;
    const metrics = Object.keys(request.metrics).length;
    if (tags + metrics > MAX_INDEXED_TAGS_AND_METRICS) {
      context.addIssue({
        code: 'custom',
        path: ['metrics'],
        message: `must hold at most ${MAX_INDEXED_TAGS_AND_METRICS - tags} metrics beside ${tags} tags (tags and metrics together at most ${MAX_INDEXED_TAGS_AND_METRICS}: each is a search-index item of the registration transaction)`,
      });
    }
  });

export type RegisterModelVersionInput = z.input<typeof registerModelVersionSchema>;
export type RegisterModelVersionRequest = z.output<typeof registerModelVersionSchema>;

/** A registered model version as the registry returns it. */
export interface ModelVersion {
  readonly modelName: string;
  readonly version: number;
  readonly stage: ModelStage;
  /** The model artifact (the same as `artifacts.model`; kept for callers written before roles). */
  readonly artifact: VersionArtifacts['model'];
  /** Every artifact by role, each with key, SHA-256, size and S3 version id. */
  readonly artifacts: VersionArtifacts;
  readonly signature?: InputSignature;
  readonly output?: ModelOutput;
  readonly metrics: Record<string, number>;
  readonly params: Record<string, string | number | boolean>;
  readonly tags: Record<string, string>;
  readonly lineage: ModelLineage;
  readonly description: string;
  readonly createdAt: string;
  /** Who registered it: the caller's IAM principal in AWS, `local` offline, `unknown` for old records. */
  readonly createdBy: string;
  /** Aliases pointing at this version, sorted (every read path returns them from the version item). */
  readonly aliases: string[];
  /** When the stage last changed (absent until the first transition). */
  readonly updatedAt?: string;
  readonly clientToken?: string;
}

/**
 * A stored version item as the current record shape: records registered before artifacts by role
 * and `createdBy` existed read with `artifacts.model` = their `artifact` and `createdBy` unknown.
 */
export function versionFromItem(item: Record<string, unknown>): ModelVersion {
  const {
    pk: _pk,
    sk: _sk,
    requestHash: _hash,
    stageSeq: _seq,
    [REGISTRY_ITEM.lastStageChange]: _change,
    ...stored
  } = item;
  const version = stored as unknown as ModelVersion & { artifacts?: VersionArtifacts; createdBy?: string };
  return {
    ...version,
    artifacts: version.artifacts ?? { model: version.artifact },
    createdBy: version.createdBy ?? UNKNOWN_PRINCIPAL,
    aliases: [...((stored.aliases as Set<string> | undefined) ?? [])].sort(),
  };
}

/** The artifacts a request names, by role (the model first). */
export function requestedArtifacts(
  request: RegisterModelVersionRequest,
): [ArtifactRole, { key: string; sha256: string }][] {
  const extra = Object.entries(request.artifacts).filter(([, ref]) => ref !== undefined) as [
    ArtifactRole,
    { key: string; sha256: string },
  ][];
  return [['model', request.artifact], ...extra];
}

/** Validates a registration request; throws a {@link ValidationError} naming the field. */
export function parseRegisterModelVersion(input: unknown): RegisterModelVersionRequest {
  const request = parseOrThrow(registerModelVersionSchema, input);
  const prefix = artifactPrefix(request.modelName);
  for (const [role, ref] of requestedArtifacts(request)) {
    if (!ref.key.startsWith(prefix))
      throw new ValidationError(artifactField(role, 'key'), `must be under ${prefix}`);
  }
  return request;
}

/**
 * Fingerprint of what a registration asks for (everything but its `clientToken`), after defaults:
 * SHA-256 of canonical JSON (keys sorted at every level). Two requests with one token are the same
 * request exactly when their fingerprints are equal.
 */
export function requestFingerprint(request: RegisterModelVersionRequest): string {
  const { clientToken: _token, ...payload } = request;
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values have one spelling. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The request field naming an artifact of `role`: `artifact.key` for the model, `artifacts.<role>.key` else. */
export function artifactField(role: ArtifactRole, part: 'key' | 'sha256'): string {
  return role === 'model' ? `artifact.${part}` : `artifacts.${role}.${part}`;
}

/** Validates a model name. */
export function parseModelName(input: unknown, field = 'modelName'): string {
  return parseOrThrow(modelNameSchema, input, field);
}

/** Validates a version number (a positive integer). */
export function parseVersion(input: unknown, field = 'version'): number {
  return parseOrThrow(
    z
      .number({ error: 'must be a positive integer' })
      .int('must be a positive integer')
      .positive('must be a positive integer'),
    input,
    field,
  );
}

/** Artifact keys live in the layout module; re-exported for this module's callers. */
export { artifactKey, artifactPrefix };

/** Throws {@link ItemTooLargeError}, naming the largest attribute, when an item exceeds DynamoDB's limit. */
export function assertItemFits(item: Record<string, unknown>, limitBytes = DYNAMODB_ITEM_LIMIT_BYTES): void {
  const { total, byAttribute } = itemSize(item);
  if (total <= limitBytes) return;
  let largest = '(item)';
  let largestSize = -1;
  for (const [name, size] of byAttribute) {
    if (size > largestSize) {
      largest = name;
      largestSize = size;
    }
  }
  throw new ItemTooLargeError(largest, total, limitBytes);
}
