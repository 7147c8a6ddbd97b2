import { describe, expect, it } from 'vitest';
import { captureLine, sampleRequest } from '../../lambdas/serving/capture.js';
import { lambdaSessionOptions, lambdaVcpus } from '../../lambdas/serving/model-loader.js';

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
