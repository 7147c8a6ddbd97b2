/**
 * The inference function's configuration from its environment (names: ENV in ../shared/layout.ts,
 * set by lib/inference-api.ts and, for MODEL_VERSION, by pinModelVersion). Read once at cold start.
 * A malformed value does not throw: it comes back as `error` (with defaults in its place), so the
 * function starts and answers every request with it instead of failing its init again and again.
 */
import { ConfigurationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { DEFAULT_MAX_BATCH_INSTANCES } from './contract.js';
import { MAX_SIGNED_INSTANCES } from './request-ids.js';

export interface ServingEnv {
  readonly modelName: string;
  /** The pinned registry version; absent: nothing deployed (the function answers ModelNotDeployed). */
  readonly modelVersion?: number;
  /** The capture delivery stream; empty: no capture. */
  readonly captureStream: string;
  readonly captureSampleRate: number;
  readonly maxBatchInstances: number;
  /** The secret (ARN or name) holding the request-signing key. */
  readonly requestSigningSecret: string;
  /** The function's memory (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE). @default LAMBDA_MB_PER_VCPU */
  readonly memoryMb: number;
  /** What is wrong with the environment, if anything (the function then serves nothing). */
  readonly error?: ConfigurationError;
}

/** Lambda allocates one vCPU per this many MB of memory (up to 6 vCPUs at 10,240 MB). */
export const LAMBDA_MB_PER_VCPU = 1769;

/** Lambda's own variable naming the function's memory in MB. */
export const LAMBDA_MEMORY_ENV = 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE';

export function servingEnv(env: NodeJS.ProcessEnv = process.env): ServingEnv {
  const problems: string[] = [];
  const text = (name: string) => (env[name] ?? '').trim();
  const modelName = text(ENV.modelName);
  if (modelName === '') problems.push(`${ENV.modelName} must be set (the model this function serves)`);
  const requestSigningSecret = text(ENV.requestSigningSecret);
  if (requestSigningSecret === '')
    problems.push(`${ENV.requestSigningSecret} must be set (the secret whose key signs request ids)`);
  const number = (name: string, rule: (n: number) => boolean, what: string, fallback: number): number => {
    const raw = text(name);
    if (raw === '') return fallback;
    const n = Number(raw);
    if (rule(n)) return n;
    problems.push(`${name} must be ${what} (got ${JSON.stringify(raw)})`);
    return fallback;
  };
  const positiveInteger = (n: number) => Number.isSafeInteger(n) && n >= 1;
  const version = number(ENV.modelVersion, positiveInteger, 'empty or a positive integer', 0);
  const captureSampleRate = number(ENV.captureSampleRate, (n) => n >= 0 && n <= 1, 'a number from 0 to 1', 0);
  const maxBatchInstances = number(
    ENV.maxBatchInstances,
    (n) => positiveInteger(n) && n <= MAX_SIGNED_INSTANCES,
    `a positive integer up to ${MAX_SIGNED_INSTANCES}`,
    DEFAULT_MAX_BATCH_INSTANCES,
  );
  const memoryMb = number(LAMBDA_MEMORY_ENV, positiveInteger, 'a positive integer', LAMBDA_MB_PER_VCPU);
  return {
    modelName,
    ...(version === 0 ? {} : { modelVersion: version }),
    captureStream: text(ENV.captureStream),
    captureSampleRate,
    maxBatchInstances,
    requestSigningSecret,
    memoryMb,
    ...(problems.length === 0 ? {} : { error: new ConfigurationError(problems.join('; ')) }),
  };
}
