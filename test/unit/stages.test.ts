import { describe, expect, it } from 'vitest';
import { MODEL_STAGES } from '../../lambdas/registry/model-version.js';
import {
  assertLegalTransition,
  LEGAL_TRANSITIONS,
  parseTransitionStage,
} from '../../lambdas/registry/stages.js';
import { validationErrorOf } from '../support/errors.js';

describe('stage transition rules', () => {
  it('allows exactly the transitions in the table', () => {
    const allowed: string[] = [];
    for (const from of MODEL_STAGES) {
      for (const to of MODEL_STAGES) {
        try {
          assertLegalTransition(from, to);
          allowed.push(`${from}>${to}`);
        } catch {
          // refused
        }
      }
    }
    expect(allowed.sort()).toEqual(
      Object.entries(LEGAL_TRANSITIONS)
        .flatMap(([from, tos]) => tos.map((to) => `${from}>${to}`))
        .sort(),
    );
    expect(allowed).not.toContain('None>Production');
    expect(allowed).not.toContain('Production>Production');
  });

  it('names the stage rule and the legal targets when refusing', () => {
    const error = validationErrorOf(() =>
      parseTransitionStage({
        modelName: 'm',
        version: 1,
        expectedStage: 'Archived',
        toStage: 'Production',
        reason: 'x',
      }),
    );
    expect(error.field).toBe('toStage');
    expect(error.rule).toBe(
      'cannot move from Archived to Production; from Archived a version may move to Staging',
    );
  });

  it('requires a reason and a known stage', () => {
    expect(
      validationErrorOf(() =>
        parseTransitionStage({ modelName: 'm', version: 1, expectedStage: 'None', toStage: 'Staging' }),
      ).field,
    ).toBe('reason');
    expect(
      validationErrorOf(() =>
        parseTransitionStage({
          modelName: 'm',
          version: 1,
          expectedStage: 'Live',
          toStage: 'Staging',
          reason: 'r',
        }),
      ).field,
    ).toBe('expectedStage');
  });
});
