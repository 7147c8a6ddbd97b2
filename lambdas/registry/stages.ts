/**
 * Stage rules of a model version, in one place. Plain code: no AWS SDK.
 *
 * | from \ to  | None | Staging | Production | Archived |
 * |------------|------|---------|------------|----------|
 * | None       |  -   |   yes   |     -      |   yes    |
 * | Staging    | yes  |    -    |    yes     |   yes    |
 * | Production |  -   |   yes   |     -      |   yes    |
 * | Archived   |  -   |   yes   |     -      |    -     |
 *
 * Production is reached only from Staging. Promoting a version to Production archives the model's
 * previous Production version in the same transaction (at most one Production version per model).
 */
import * as z from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';
import type { GateResult } from './gates.js';
import { MODEL_STAGES, type ModelStage, modelNameSchema } from './model-version.js';

export const LEGAL_TRANSITIONS: Readonly<Record<ModelStage, readonly ModelStage[]>> = {
  None: ['Staging', 'Archived'],
  Staging: ['None', 'Production', 'Archived'],
  Production: ['Staging', 'Archived'],
  Archived: ['Staging'],
};

/** Throws a {@link ValidationError} on `field` unless `from → to` is in {@link LEGAL_TRANSITIONS}. */
export function assertLegalTransition(from: ModelStage, to: ModelStage, field = 'toStage'): void {
  const legal = LEGAL_TRANSITIONS[from];
  if (!legal.includes(to)) {
    throw new ValidationError(
      field,
      `cannot move from ${from} to ${to}; from ${from} a version may move to ${legal.join(', ')}`,
    );
  }
}

const stage = z.enum(MODEL_STAGES, { error: `must be one of ${MODEL_STAGES.join(', ')}` });

export const transitionStageSchema = z.strictObject({
  modelName: modelNameSchema,
  version: z
    .number({ error: 'must be a positive integer' })
    .int('must be a positive integer')
    .positive('must be a positive integer'),
  /** The stage the caller read: the transition happens only if the version is still in it. */
  expectedStage: stage,
  toStage: stage,
  reason: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 characters'),
  /**
   * Enter the stage although gates fail: the reason is recorded in the history entry beside each
   * gate's result. Without it a failing gate refuses the transition (GateFailedError).
   */
  gateOverride: z
    .strictObject({
      reason: z
        .string({ error: 'must be a string' })
        .trim()
        .min(1, 'must not be empty (an override needs a reason)')
        .max(1024, 'must be at most 1024 characters'),
    })
    .optional(),
});

export type TransitionStageInput = z.input<typeof transitionStageSchema>;
export type TransitionStageRequest = z.output<typeof transitionStageSchema>;

/** Validates a transition request, including the rule table. */
export function parseTransitionStage(input: unknown): TransitionStageRequest {
  const request = parseOrThrow(transitionStageSchema, input);
  assertLegalTransition(request.expectedStage, request.toStage);
  return request;
}

/** One append-only entry of a version's stage history. */
export interface StageHistoryEntry {
  readonly modelName: string;
  readonly version: number;
  /** Position in this version's history, from 1. */
  readonly sequence: number;
  readonly from: ModelStage;
  readonly to: ModelStage;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
  /** Set when the entry was caused by another version's promotion (the archived predecessor). */
  readonly causedBy?: { readonly version: number };
  /** Each gate's result, when the target stage is gated for this model. */
  readonly gates?: readonly GateResult[];
  /** Present when failing gates were overridden: the caller's reason. */
  readonly gateOverride?: { readonly reason: string };
}
