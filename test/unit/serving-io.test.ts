import { describe, expect, it } from 'vitest';
import { captureLine, sampleRequest } from '../../lambdas/serving/capture.js';
import {
  ModelIntegrityError,
  ModelNotDeployedError,
  ModelUnsupportedError,
} from '../../lambdas/serving/errors.js';
import { holdServedModel, lambdaSessionOptions, lambdaVcpus } from '../../lambdas/serving/model-loader.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { servingEnv } from '../../lambdas/serving/serving-env.js';
import { ConfigurationError, DependencyError } from '../../lambdas/shared/errors.js';

describe('Lambda session settings', () => {
  it.each([
    [128, 1],
    [1024, 1],
    [1769, 1],
    [3538, 2],
    [5307, 3],
    [10_240, 6],
    [20_000, 6],
  ])('gives %i MB %i intra-op threads (1 vCPU per 1769 MB, 1 to 6)', (memoryMb, threads) => {
    expect(lambdaVcpus(memoryMb)).toBe(threads);
    expect(lambdaSessionOptions(memoryMb)).toEqual({
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  });
});

describe('capture sampling', () => {
  it('decides by the request id: the same id always the same way, all at 1, none at 0', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `req-${i}`);
    expect(ids.every((id) => sampleRequest(id, 1))).toBe(true);
    expect(ids.some((id) => sampleRequest(id, 0))).toBe(false);
    expect(ids.map((id) => sampleRequest(id, 0.3))).toEqual(ids.map((id) => sampleRequest(id, 0.3)));
    const share = ids.filter((id) => sampleRequest(id, 0.25)).length / ids.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
    // A higher rate keeps every request a lower one kept (the hash is compared with the rate).
    expect(ids.filter((id) => sampleRequest(id, 0.1)).every((id) => sampleRequest(id, 0.5))).toBe(true);
  });

  it('writes each record as one JSON line ending in a newline', () => {
    const text = new TextDecoder().decode(
      captureLine({
        kind: 'feedback',
        requestId: 'r\n1',
        instance: 0,
        timeMs: 1,
        model: 'churn',
        outcome: 1,
      }),
    );
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(2);
    expect(JSON.parse(text)).toMatchObject({ requestId: 'r\n1' });
  });
});

describe('the served model held by the handler', () => {
  const model = { name: 'churn', version: 3 } as LoadedModel;
  /** A loader answering `outcomes` in turn (an Error is thrown), counting its calls. */
  function loader(...outcomes: (LoadedModel | Error)[]) {
    let calls = 0;
    const load = async () => {
      const outcome = outcomes[Math.min(calls++, outcomes.length - 1)];
      if (outcome instanceof Error) throw outcome;
      return outcome as LoadedModel;
    };
    return { load, calls: () => calls };
  }

  it('serves the model loaded at init, told it was the first load (the cold start)', async () => {
    const loaded: [LoadedModel, boolean][] = [];
    const served = await holdServedModel(loader(model).load, {
      loaded: (m, first) => void loaded.push([m, first]),
    });
    expect(served.model()).toBe(model);
    expect(loaded).toEqual([[model, true]]);
  });

  it('tells a reload after a failed init it is not the first load (no second cold start)', async () => {
    let now = 0;
    const loaded: boolean[] = [];
    const { load } = loader(new Error('S3 down'), model);
    const served = await holdServedModel(load, {
      clock: () => now,
      reloadIntervalMs: 1000,
      loaded: (_, first) => void loaded.push(first),
    });
    now = 1000;
    expect(() => served.model()).toThrow(DependencyError);
    await new Promise((r) => setTimeout(r, 0));
    expect(served.model()).toBe(model);
    expect(loaded).toEqual([false]);
  });

  it('answers a model without the mlops contract on every request and never loads again', async () => {
    let now = 0;
    const { load, calls } = loader(new ModelUnsupportedError('no contract'), model);
    const served = await holdServedModel(load, { clock: () => now, reloadIntervalMs: 1000 });
    now = 60_000;
    expect(() => served.model()).toThrow(ModelUnsupportedError);
    await Promise.resolve();
    expect(calls()).toBe(1);
  });

  it('answers an integrity failure on every request and never loads again', async () => {
    let now = 0;
    const { load, calls } = loader(new ModelIntegrityError('bad digest'), model);
    const failed: unknown[] = [];
    const served = await holdServedModel(load, { clock: () => now, failed: (e) => void failed.push(e) });
    for (let i = 0; i < 3; i++) {
      now += 60_000;
      expect(() => served.model()).toThrow(ModelIntegrityError);
    }
    await Promise.resolve();
    expect(calls()).toBe(1);
    expect(failed).toHaveLength(1);
    expect(served.current()).toBeUndefined();
  });

  it('tries again in the background, at most once per interval, after a failure that may pass', async () => {
    let now = 0;
    const { load, calls } = loader(new ModelNotDeployedError('no champion'), new Error('S3 down'), model);
    const served = await holdServedModel(load, { clock: () => now, reloadIntervalMs: 1000 });
    expect(() => served.model()).toThrow(ModelNotDeployedError);
    expect(calls()).toBe(1); // too soon
    now = 1000;
    expect(() => served.model()).toThrow(ModelNotDeployedError); // starts a reload, answers the last error
    await new Promise((r) => setTimeout(r, 0));
    expect(calls()).toBe(2);
    expect(() => served.model()).toThrow(DependencyError); // the reload failed on S3: retry later
    now = 2000;
    expect(() => served.model()).toThrow(DependencyError);
    await new Promise((r) => setTimeout(r, 0));
    expect(served.model()).toBe(model);
    expect(calls()).toBe(3);
  });
});

describe('serving environment', () => {
  it('reads the model, pinned version, capture and batch settings', () => {
    expect(
      servingEnv({
        MODEL_NAME: 'churn',
        MODEL_VERSION: '4',
        CAPTURE_STREAM: 'capture-churn',
        CAPTURE_SAMPLE_RATE: '0.25',
        MAX_BATCH_INSTANCES: '100',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3538',
        REQUEST_SIGNING_SECRET: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:key-AbCdEf',
      }),
    ).toEqual({
      modelName: 'churn',
      modelVersion: 4,
      captureStream: 'capture-churn',
      captureSampleRate: 0.25,
      maxBatchInstances: 100,
      requestSigningSecret: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:key-AbCdEf',
      memoryMb: 3538,
    });
    expect(servingEnv({ MODEL_NAME: 'churn', MODEL_VERSION: '', REQUEST_SIGNING_SECRET: 'key' })).toEqual({
      modelName: 'churn',
      captureStream: '',
      captureSampleRate: 0,
      maxBatchInstances: 1000,
      requestSigningSecret: 'key',
      memoryMb: 1769,
    });
  });

  it('keeps what is wrong as an error naming each variable, instead of throwing', () => {
    const env = servingEnv({ MODEL_VERSION: '1.5', CAPTURE_SAMPLE_RATE: '2', MAX_BATCH_INSTANCES: '0' });
    expect(env.error).toBeInstanceOf(ConfigurationError);
    for (const name of [
      'MODEL_NAME',
      'MODEL_VERSION',
      'CAPTURE_SAMPLE_RATE',
      'MAX_BATCH_INSTANCES',
      'REQUEST_SIGNING_SECRET',
    ])
      expect(env.error?.message).toContain(name);
  });
});
