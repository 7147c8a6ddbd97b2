import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../lambdas/shared/errors.js';
import { backoffDelay, retry } from '../../lambdas/shared/retry.js';

class Transient extends Error {
  override name = 'Transient';
}

/** An operation failing with `failures[i]` on attempt i + 1, then answering `value`. */
function flaky<T>(failures: Error[], value: T) {
  const attempts: number[] = [];
  const operation = async (attempt: number) => {
    attempts.push(attempt);
    const failure = failures[attempt - 1];
    if (failure) throw failure;
    return value;
  };
  return { operation, attempts };
}

function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

const options = { baseDelayMs: 10, maxDelayMs: 100 };

describe('retry', () => {
  it('returns the first success without waiting', async () => {
    const { operation, attempts } = flaky([], 'done');
    const { delays, sleep } = recordingSleep();
    await expect(retry(operation, { ...options, maxAttempts: 3, sleep })).resolves.toBe('done');
    expect(attempts).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it('retries retryable failures with full jitter under a doubling, capped ceiling', async () => {
    const { operation, attempts } = flaky(
      Array.from({ length: 6 }, () => new Transient()),
      'done',
    );
    const { delays, sleep } = recordingSleep();
    const result = await retry(operation, { ...options, maxAttempts: 7, sleep, random: () => 0.5 });
    expect(result).toBe('done');
    expect(attempts).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // Ceilings 10, 20, 40, 80, 100 (capped), 100; half of each with random() = 0.5.
    expect(delays).toEqual([5, 10, 20, 40, 50, 50]);
  });

  it('waits anywhere from zero up to the ceiling (full jitter, not a fixed delay)', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.999999)).toBeCloseTo(40, 3);
    expect(backoffDelay(50, options, () => 0.999999)).toBeLessThan(100);
  });

  it('gives up after maxAttempts and throws the last failure', async () => {
    const last = new Transient('third');
    const { operation, attempts } = flaky([new Transient('first'), new Transient('second'), last], 'never');
    const { delays, sleep } = recordingSleep();
    await expect(retry(operation, { ...options, maxAttempts: 3, sleep })).rejects.toBe(last);
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toHaveLength(2);
  });

  it('throws the error `exhausted` makes once attempts run out, with the last failure as its cause', async () => {
    const { operation } = flaky([new Transient(), new Transient()], 'never');
    const error = await retry(operation, {
      ...options,
      maxAttempts: 2,
      sleep: recordingSleep().sleep,
      exhausted: (cause, attempts) => new ConflictError(`lost ${attempts} races`, { cause }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toBe('lost 2 races');
    expect((error as ConflictError).cause).toBeInstanceOf(Transient);
  });

  it('throws a failure the predicate refuses at once, without waiting', async () => {
    const fatal = new TypeError('bad');
    const { operation, attempts } = flaky([new Transient(), fatal], 'never');
    const { delays, sleep } = recordingSleep();
    await expect(
      retry(operation, { ...options, maxAttempts: 5, sleep, isRetryable: (e) => e instanceof Transient }),
    ).rejects.toBe(fatal);
    expect(attempts).toEqual([1, 2]);
    expect(delays).toHaveLength(1);
  });

  it('refuses a maxAttempts below 1 before running anything', async () => {
    const { operation, attempts } = flaky([], 'done');
    await expect(retry(operation, { ...options, maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
    expect(attempts).toEqual([]);
  });
});
