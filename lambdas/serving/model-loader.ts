/**
 * Loads the one model an inference function serves, at cold start: the registry version its Lambda
 * version is pinned to (unpinned: nothing, ModelNotDeployed; `mlops serve deploy` pins), its
 * artifact downloaded and SHA-256-checked against the registry record before anything reads it
 * (a mismatch is a ModelIntegrityError: no session is ever created from bytes the registry did not
 * record), one InferenceSession with thread settings for Lambda's vCPUs, and a warm-up prediction.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { ModelVersion } from '../registry/model-version.js';
import type { ModelRegistryStore } from '../registry/registry-store.js';
import { ConfigurationError, DependencyError, NotFoundError } from '../shared/errors.js';
import type { ObjectStore } from '../shared/object-store.js';
import { readModelContract } from '../training/model-contract.js';
import { ModelIntegrityError, ModelNotDeployedError, ModelUnsupportedError } from './errors.js';
import type { LoadedModel } from './ports.js';
import { LAMBDA_MB_PER_VCPU } from './serving-env.js';

/** Most vCPUs a Lambda function gets. */
export const LAMBDA_MAX_VCPUS = 6;

/** The vCPUs Lambda gives a function of `memoryMb` (whole, at least 1, at most 6). */
export function lambdaVcpus(memoryMb: number): number {
  const vcpus = Math.round(memoryMb / LAMBDA_MB_PER_VCPU);
  return Math.min(LAMBDA_MAX_VCPUS, Math.max(1, Number.isFinite(vcpus) ? vcpus : 1));
}

/** Session options for a Lambda of `memoryMb`: one intra-op thread per vCPU, nothing else in parallel. */
export function lambdaSessionOptions(memoryMb: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: lambdaVcpus(memoryMb),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

export interface LoadServedModelProps {
  /** Reads a version by number (the registry store the registry functions use). */
  readonly registry: Pick<ModelRegistryStore, 'getModelVersion'>;
  /** The registry's artifact bucket. */
  readonly artifacts: Pick<ObjectStore, 'get'>;
  readonly modelName: string;
  /** The pinned registry version; absent: nothing is deployed (ModelNotDeployedError). */
  readonly modelVersion?: number;
  /** The function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), which sets its vCPUs. */
  readonly memoryMb: number;
  /** A prediction made once before the model serves (the handler scores a row built from the signature). */
  readonly warmUp?: (model: LoadedModel) => Promise<void>;
  readonly now?: () => number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** What an unpinned function answers: it serves exactly the version its configuration names. */
export const NOT_DEPLOYED_MESSAGE =
  'no model version is deployed to this function; run `mlops serve deploy <model> [version]`';

async function servedVersion(props: LoadServedModelProps): Promise<ModelVersion> {
  const { modelName, modelVersion } = props;
  if (modelVersion === undefined) throw new ModelNotDeployedError(NOT_DEPLOYED_MESSAGE);
  try {
    return await props.registry.getModelVersion(modelName, modelVersion);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new ModelNotDeployedError(
      `model ${modelName} has no registered version ${modelVersion} (this function version is pinned to it)`,
    );
  }
}

/**
 * The model this function serves, verified and warmed up. Throws ModelNotDeployedError (nothing to
 * serve), ModelIntegrityError (the artifact is missing or differs from its registered SHA-256) or
 * ModelUnsupportedError (it matches but carries no mlops model contract); any other error (the
 * registry or S3 failing) as it is.
 */
export async function loadServedModel(props: LoadServedModelProps): Promise<LoadedModel> {
  const now = props.now ?? performance.now.bind(performance);
  const started = now();
  const version = await servedVersion(props);
  const ref = version.artifacts.model;
  const where = `model ${version.modelName} version ${version.version} (${ref.key})`;
  const bytes = await props.artifacts.get(ref.key);
  if (bytes === undefined) throw new ModelIntegrityError(`${where}: the artifact is missing`);
  const digest = sha256(bytes);
  if (digest !== ref.sha256)
    throw new ModelIntegrityError(
      `${where}: the artifact's SHA-256 is ${digest}, the registry recorded ${ref.sha256}; refusing to serve it`,
    );
  let contract: LoadedModel['contract'];
  try {
    contract = readModelContract(bytes);
  } catch (error) {
    throw new ModelUnsupportedError(
      `${where}: the artifact carries no readable mlops model contract (${(error as Error).message}); register a model trained by mlops`,
    );
  }
  const session = await ort.InferenceSession.create(bytes, lambdaSessionOptions(props.memoryMb));
  const model: LoadedModel = {
    name: version.modelName,
    version: version.version,
    sha256: digest,
    contract,
    signature: version.signature ?? contract.signature,
    output: version.output ?? contract.output,
    session,
    initMs: 0,
  };
  try {
    await props.warmUp?.(model);
  } catch (error) {
    await session.release();
    throw error;
  }
  return { ...model, initMs: now() - started };
}

/** Least time between two loads after a load that failed for a reason that may pass. */
export const RELOAD_INTERVAL_MS = 10_000;

/** The served model as the handler holds it: loaded at init, or the reason it is not served. */
export interface ServedModel {
  /** The model; throws the reason it is not served (what the request path answers with). */
  readonly model: () => LoadedModel;
  /** The model loaded, if it is. */
  readonly current: () => LoadedModel | undefined;
}

/**
 * Loads the model once (await the result at init) and keeps it, or keeps why it could not be
 * loaded: every request then gets that error (ModelNotDeployed, ModelIntegrity, ModelUnsupported:
 * 503s) instead of a crash-looping function. An integrity failure or an unsupported model is final
 * for this instance (never a wrong model).
 * Any other failure (nothing deployed yet, the registry or S3 failing) is tried again, in the
 * background, on a request at least `reloadIntervalMs` after the last attempt; until a load
 * succeeds, requests get the last error (a failing dependency as DependencyError: retry).
 * `loaded` is told whether the load was the instance's first (its init: the cold start) or a
 * reload after a failed one (not a cold start: the instance was already running).
 */
export async function holdServedModel(
  load: () => Promise<LoadedModel>,
  hooks: {
    readonly loaded?: (model: LoadedModel, first: boolean) => void;
    readonly failed?: (error: unknown) => void;
    readonly reloadIntervalMs?: number;
    readonly clock?: () => number;
  } = {},
): Promise<ServedModel> {
  const clock = hooks.clock ?? Date.now;
  const interval = hooks.reloadIntervalMs ?? RELOAD_INTERVAL_MS;
  let model: LoadedModel | undefined;
  let error: unknown;
  let lastAttempt = 0;
  let inFlight: Promise<void> | undefined;
  let attempts = 0;
  const attempt = async (): Promise<void> => {
    lastAttempt = clock();
    const first = attempts++ === 0;
    try {
      model = await load();
      error = undefined;
      hooks.loaded?.(model, first);
    } catch (e) {
      error = e;
      hooks.failed?.(e);
    }
  };
  await attempt();
  const refusal = (): Error => {
    if (
      error instanceof ModelIntegrityError ||
      error instanceof ModelUnsupportedError ||
      error instanceof ModelNotDeployedError
    )
      return error;
    if (error instanceof ConfigurationError) return error;
    return new DependencyError(
      'model-registry',
      `the model could not be loaded (${(error as Error)?.message ?? String(error)})`,
      { cause: error },
    );
  };
  return {
    current: () => model,
    model: () => {
      if (model !== undefined) return model;
      const retryable = !(
        error instanceof ModelIntegrityError ||
        error instanceof ModelUnsupportedError ||
        error instanceof ConfigurationError
      );
      if (retryable && inFlight === undefined && clock() - lastAttempt >= interval) {
        inFlight = attempt().finally(() => {
          inFlight = undefined;
        });
      }
      throw refusal();
    },
  };
}
