import { describe, expect, it } from 'vitest';
import {
  experimentDeploymentName,
  plannedAction,
  promotionRequest,
} from '../../lambdas/experiments/experiment-check.js';
import type { ExperimentReport } from '../../lambdas/experiments/report.js';

const report = (decision: ExperimentReport['verdict']['decision'], elapsedDays: number) =>
  ({
    verdict: { decision, reason: 'r' },
    progress: {
      elapsedDays,
      maxDurationDays: 14,
      sampleFraction: 0,
      requiredPerArm: { control: 1, treatment: 1 },
    },
  }) as ExperimentReport;

describe('experimentDeploymentName', () => {
  it('is a valid Step Functions execution name, the same for the same id, distinct for ids that clean alike', () => {
    const long = `a${'b.c:d'.repeat(25)}`;
    for (const id of ['churn-ab', 'churn:ab', 'churn.ab', long]) {
      const name = experimentDeploymentName(id);
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
      expect(experimentDeploymentName(id)).toBe(name);
    }
    const names = new Set(['churn-ab', 'churn:ab', 'churn.ab'].map(experimentDeploymentName));
    expect(names.size).toBe(3);
  });
});

describe('plannedAction', () => {
  it('promotes on ship, stops on don’t ship, and stops anything else only past the maximum duration', () => {
    expect(plannedAction(report('ship', 1))).toBe('promote');
    expect(plannedAction(report("don't ship", 1))).toBe('stop');
    expect(plannedAction(report('keep running', 13.9))).toBe('none');
    expect(plannedAction(report('invalid', 13.9))).toBe('none');
    expect(plannedAction(report('keep running', 14))).toBe('stop');
    expect(plannedAction(report('invalid', 20))).toBe('stop');
  });
});

describe('promotionRequest', () => {
  it('deploys the treatment version, naming the experiment', () => {
    expect(promotionRequest({ id: 'churn-ab', treatment: 4 }, 'conversion improved (p = 0.001)')).toEqual({
      modelVersion: 4,
      requestedBy: 'experiment churn-ab',
      reason: 'ship — conversion improved (p = 0.001)',
      experimentId: 'churn-ab',
    });
  });
});
