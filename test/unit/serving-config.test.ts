import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BATCH_INSTANCES } from '../../lambdas/serving/contract.js';
import { lambdaVcpus } from '../../lambdas/serving/model-loader.js';
import { LAMBDA_MB_PER_VCPU, servingEnv } from '../../lambdas/serving/serving-env.js';
import { ENV } from '../../lambdas/shared/layout.js';
import { ConfigValidationError, defaultConfig, loadConfig, servedModels } from '../../lib/config.js';

const models = [
  { name: 'churn', gates: {} },
  { name: 'fraud', gates: {} },
];

function problems(serving: unknown, configured: unknown[] = models): string[] {
  try {
    loadConfig({ models: configured, serving });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems.map((p) => `${p.field}: ${p.rule}`).sort();
  }
  return [];
}

describe('serving configuration', () => {
  it('defaults: IAM auth, batches of 1000, every request captured, one vCPU, throttled, traced', () => {
    const { serving } = loadConfig({});
    expect(serving).toEqual({
      auth: 'iam',
      maxBatchInstances: DEFAULT_MAX_BATCH_INSTANCES,
      captureSampleRate: 1,
      memoryMb: 1769,
      throttle: { rateLimit: 100, burstLimit: 200 },
      provisionedConcurrency: 0,
      tracing: true,
    });
    expect(defaultConfig.serving).toEqual(serving);
  });

  it('takes one vCPU of memory from the one constant the function and its session settings use', () => {
    expect(loadConfig({}).serving.memoryMb).toBe(LAMBDA_MB_PER_VCPU);
    expect(servingEnv({ [ENV.modelName]: 'churn' }).memoryMb).toBe(LAMBDA_MB_PER_VCPU);
    expect(lambdaVcpus(LAMBDA_MB_PER_VCPU)).toBe(1);
    expect(lambdaVcpus(2 * LAMBDA_MB_PER_VCPU)).toBe(2);
  });

  it('fills the defaults of what a partial section leaves out', () => {
    const { serving } = loadConfig({ serving: { auth: 'apiKey', throttle: { rateLimit: 5 } } });
    expect(serving).toMatchObject({
      auth: 'apiKey',
      throttle: { rateLimit: 5, burstLimit: 200 },
      memoryMb: 1769,
    });
  });

  it('serves every configured model unless serving.models names some', () => {
    expect(servedModels(loadConfig({ models }))).toEqual(['churn', 'fraud']);
    expect(servedModels(loadConfig({ models, serving: { models: ['fraud'] } }))).toEqual(['fraud']);
    expect(servedModels(loadConfig({ models, serving: { models: [] } }))).toEqual([]);
    expect(servedModels(loadConfig({}))).toEqual([]);
  });

  it('refuses a served model that is not configured, or listed twice, naming the field', () => {
    expect(problems({ models: ['churn', 'nope', 'churn'] })).toEqual([
      'config.serving.models.1: names no configured model (nope); add it to models first',
      'config.serving.models.2: lists churn twice',
    ]);
  });

  it('refuses out-of-range values, each naming its field and rule', () => {
    expect(
      problems({
        auth: 'cognito',
        maxBatchInstances: 10_001,
        captureSampleRate: 1.5,
        memoryMb: 64,
        throttle: { rateLimit: 0, burstLimit: 2.5 },
        provisionedConcurrency: -1,
        tracing: 'yes',
      }),
    ).toEqual([
      "config.serving.auth: must be 'iam' or 'apiKey'",
      'config.serving.captureSampleRate: must be between 0 and 1',
      'config.serving.maxBatchInstances: must be at most 10000',
      'config.serving.memoryMb: must be at least 128 (Lambda minimum)',
      'config.serving.provisionedConcurrency: must be 0 or more',
      'config.serving.throttle.burstLimit: must be a whole number',
      'config.serving.throttle.rateLimit: must be positive',
      'config.serving.tracing: must be true or false',
    ]);
    expect(problems({ maxBatchInstances: 0 })).toEqual([
      'config.serving.maxBatchInstances: must be at least 1',
    ]);
    expect(problems({ captureSampleRate: -0.1 })).toEqual([
      'config.serving.captureSampleRate: must be between 0 and 1',
    ]);
  });

  it('refuses an unknown serving field', () => {
    expect(problems({ autoscale: true })).toEqual(['config.serving.autoscale: is not a known field']);
  });
});
