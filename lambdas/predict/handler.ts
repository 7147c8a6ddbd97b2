/**
 * The inference function: one per model, behind API Gateway (REST proxy integration) through the
 * `live` alias. At init (module scope, top-level await: the bundle is ESM) it loads the model its
 * Lambda version is pinned to (MODEL_VERSION, set by `mlops serve deploy`; empty: nothing, every
 * request answers 503 ModelNotDeployed), verified against the registry's SHA-256 and warmed up, and
 * records the cold start. A model it cannot serve never crashes the function: the reason is kept and
 * every request answers it (503 ModelIntegrityError, ModelUnsupported or ModelNotDeployed), so a bad
 * version is refused while the previous alias target keeps serving.
 *
 * The request path is createInferenceApp (../serving/http.ts); this module only wires it: the
 * registry (../registry/registry.ts env), the online store and the feature views baked into the
 * bundle (../feature-store/configured-views.ts), the capture stream (CAPTURE_STREAM), the
 * request-signing key (REQUEST_SIGNING_SECRET, read at init alongside the model).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import { ExperimentStore } from '../experiments/experiment-store.js';
import { configuredViews } from '../feature-store/configured-views.js';
import { REGISTRY_ENV, registryFromEnv } from '../registry/registry.js';
import { firehoseCapture } from '../serving/capture.js';
import { RequestError } from '../serving/contract.js';
import { ModelIntegrityError } from '../serving/errors.js';
import { experimentRouter } from '../serving/experiments.js';
import { createInferenceApp } from '../serving/http.js';
import { holdServedModel, loadServedModel } from '../serving/model-loader.js';
import { onlineFeatureSource } from '../serving/online-features.js';
import type { LoadedModel, OnlineFeatureSource } from '../serving/ports.js';
import { holdRequestIds } from '../serving/request-ids.js';
import { scoreRows } from '../serving/scorer.js';
import { servingEnv } from '../serving/serving-env.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { firehoseClient } from '../shared/clients/firehose.js';
import { s3Client } from '../shared/clients/s3.js';
import { secretsManagerClient } from '../shared/clients/secrets-manager.js';
import { ConfigurationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import {
  metrics,
  recordColdStart,
  recordIntegrityFailure,
  recordSigningKeyFailure,
} from '../shared/metrics.js';
import { S3ObjectStore } from '../shared/object-store.js';

const config = servingEnv(process.env);
const views = configuredViews();

/** A row of the signature's inputs, all missing: the warm-up scores what encoding makes of it. */
const warmUp = async (model: LoadedModel): Promise<void> => {
  await scoreRows(model, [Object.fromEntries(model.signature.inputs.map((input) => [input.name, null]))]);
};

/**
 * The request-signing key, read while the model loads (the cold start waits for the slower). Until
 * it is read, predict and feedback answer 502 and a read is tried again (../serving/request-ids.ts).
 */
const signing = holdRequestIds(
  config.modelName,
  async () => {
    if (config.requestSigningSecret === '')
      throw config.error ?? new ConfigurationError(`${ENV.requestSigningSecret} must be set`);
    const secret = await secretsManagerClient().send(
      new GetSecretValueCommand({ SecretId: config.requestSigningSecret }),
    );
    if (secret.SecretString === undefined)
      throw new ConfigurationError('the request-signing secret has no SecretString');
    return secret.SecretString;
  },
  {
    // Alarmed: a refresh that keeps failing leaves the instance on keys a rotation may replace.
    failed: (error) => {
      logger.error('the request-signing key could not be read', { error });
      recordSigningKeyFailure(metrics, config.modelName);
    },
  },
);

const served = await holdServedModel(
  async () => {
    if (config.error !== undefined) throw config.error;
    return loadServedModel({
      registry: registryFromEnv()(),
      artifacts: new S3ObjectStore(s3Client(), process.env[REGISTRY_ENV.artifactBucket] ?? ''),
      modelName: config.modelName,
      ...(config.modelVersion === undefined ? {} : { modelVersion: config.modelVersion }),
      memoryMb: config.memoryMb,
      warmUp,
    });
  },
  {
    loaded: (model, first) => {
      logger.info('serving model', {
        model: model.name,
        version: model.version,
        sha256: model.sha256,
        initMs: Math.round(model.initMs),
      });
      // A reload after a failed init runs on a warm instance: not a cold start.
      if (first) recordColdStart(metrics, { model: model.name, version: model.version }, model.initMs);
    },
    failed: (error) => {
      logger.error('refusing to serve: the model could not be loaded', { model: config.modelName, error });
      if (error instanceof ModelIntegrityError) recordIntegrityFailure(metrics, config.modelName);
    },
  },
);

/** Online features for the model loaded (built once per loaded model: its signature says what to read). */
const sources = new WeakMap<LoadedModel, OnlineFeatureSource>();
const features: OnlineFeatureSource = {
  read(keys, nowMs) {
    const model = served.model();
    let source = sources.get(model);
    if (source === undefined) {
      const tableName = process.env[ENV.onlineTable];
      source =
        tableName === undefined || tableName === ''
          ? {
              read: () =>
                Promise.reject(
                  new RequestError(
                    'InvalidEntity',
                    'entity keys are not served here: no online store is configured',
                    {
                      instance: 0,
                      field: 'entity',
                    },
                  ),
                ),
            }
          : onlineFeatureSource({
              documents: documentClient(),
              tableName,
              views,
              signature: model.signature,
            });
      sources.set(model, source);
    }
    return source.read(keys, nowMs);
  },
};

/**
 * The model's A/B experiments: read at init and every ~30 s in the background (never per request);
 * the treatment is loaded once with the same loader and integrity check as the served version.
 */
const experimentStore =
  config.error === undefined && (process.env[ENV.registryTable] ?? '') !== ''
    ? new ExperimentStore({
        documents: documentClient(),
        tableName: process.env[ENV.registryTable] as string,
      })
    : undefined;
const experiments =
  experimentStore === undefined
    ? undefined
    : experimentRouter({
        controlVersion: () => {
          try {
            return served.model().version;
          } catch {
            return undefined;
          }
        },
        running: () => experimentStore.running(config.modelName),
        load: (version) =>
          loadServedModel({
            registry: registryFromEnv()(),
            artifacts: new S3ObjectStore(s3Client(), process.env[REGISTRY_ENV.artifactBucket] ?? ''),
            modelName: config.modelName,
            modelVersion: version,
            memoryMb: config.memoryMb,
            warmUp,
          }),
        recordOutcome: (input, known) => experimentStore.recordOutcome(input, known),
        recordAssignments: (id, counts) => experimentStore.recordAssignments(id, counts),
      });
await experiments?.ready();
const requestIds = await signing;

const app = createInferenceApp({
  modelName: config.modelName,
  model: served.model,
  features,
  capture: firehoseCapture({ firehose: firehoseClient(), streamName: config.captureStream }),
  requestIds,
  metrics,
  maxBatchInstances: config.maxBatchInstances,
  captureSampleRate: config.captureSampleRate,
  views,
  ...(experiments === undefined ? {} : { experiments }),
});

export const handler = middy(app).use(injectLambdaContext(logger));
