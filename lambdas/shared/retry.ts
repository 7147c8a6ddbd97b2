/**
 * The project's one retry loop: exponential backoff with full jitter (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"): before retry n (n = 1, 2, …) it waits a uniformly random time
 * in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))), which spreads contending writers out instead of
 * retrying in lockstep. Sleep and randomness are injectable, so tests run without waiting.
 *
 * The SDK retries throttling and transient network errors itself (clients/settings.ts); this is for
 * what the SDK cannot retry: lost conditional-write races, partially processed batches.
 */

/** How long before retry `retry` (1-based): full jitter over a capped exponential. */
export function backoffDelay(
  retry: number,
  options: { readonly baseDelayMs: number; readonly maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    options.maxDelayMs,
    options.baseDelayMs * 2 ** Math.min(Math.max(retry - 1, 0), 30),
  );
  return random() * ceiling;
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions {
  /** Attempts in all, the first included (at least 1). */
  readonly maxAttempts: number;
  /** Ceiling of the first retry's delay in ms; it doubles with each retry. */
  readonly baseDelayMs: number;
  /** Ceiling of any one delay in ms. */
  readonly maxDelayMs: number;
  /**
   * Whether a failure may be retried; any other failure is thrown at once.
   * @default every failure is retryable
   */
  readonly isRetryable?: (error: unknown) => boolean;
  /**
   * The error thrown once every attempt failed retryably.
   * @default the last failure, unchanged
   */
  readonly exhausted?: (lastError: unknown, attempts: number) => Error;
  /** @default a timer ({@link sleep}) */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Runs `operation` (given its 1-based attempt number) until it succeeds, fails with an error
 * `isRetryable` refuses, or `maxAttempts` attempts have failed; waits {@link backoffDelay} between
 * attempts.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)
    throw new RangeError(`maxAttempts must be a whole number of at least 1, got ${options.maxAttempts}`);
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.isRetryable !== undefined && !options.isRetryable(error)) throw error;
      if (attempt >= options.maxAttempts) throw options.exhausted ? options.exhausted(error, attempt) : error;
      await wait(backoffDelay(attempt, options, options.random));
    }
  }
}
