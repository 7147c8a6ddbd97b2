/**
 * What the serving benchmark (serving.bench.ts) runs of the inference function, in one module so
 * the in-process figures, the HTTP server and the cold-init child (an esbuild bundle of this file,
 * built with the function's bundling options) run the same code:
 *
 * - {@link loadModelFile}: the function's own loader (`loadServedModel`: SHA-256 check against the
 *   registry record, contract read from the ONNX metadata, session with Lambda's thread settings,
 *   one warm-up prediction), with the registry and the artifact bucket replaced by a record built
 *   from the file and a read of the file from disk — no emulator in the timings.
 * - {@link inferenceHandler}: `createInferenceApp` with that model, no online features (requests
 *   give raw features), capture off, and metrics flushed after every call as middy `logMetrics` does.
 * - {@link predictEvent}: the REST API (v1) proxy event API Gateway (and the local adapter) gives the
 *   function for `POST /v1/models/{model}/predict`.
 * - {@link coldStart}: what the cold-init child times after importing the bundle.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ModelVersion } from '../lambdas/registry/model-version.js';
import { anonymousIdentity } from '../lambdas/serving/api-gateway.js';
import { createInferenceApp, type ProxyEvent, type ProxyResult } from '../lambdas/serving/http.js';
import { loadServedModel } from '../lambdas/serving/model-loader.js';
import type { LoadedModel } from '../lambdas/serving/ports.js';
import { requestIds } from '../lambdas/serving/request-ids.js';
import { scoreRows } from '../lambdas/serving/scorer.js';
import { API_ROUTES } from '../lambdas/shared/layout.js';
import { createMetrics } from '../lambdas/shared/metrics.js';
import type { RawRow } from '../lambdas/training/encoding.js';
import { readModelContract } from '../lambdas/training/model-contract.js';

export type InferenceHandler = (event: ProxyEvent) => Promise<ProxyResult>;

/** A row of typical values from the model's encoding spec (training means, first categories): the warm-up. */
export function warmUpRow(model: Pick<LoadedModel, 'contract'>): RawRow {
  const row: Record<string, number | string> = {};
  for (const feature of model.contract.encoding.features)
    row[feature.name] = feature.kind === 'numeric' ? feature.mean : (feature.categories[0] ?? '');
  return row;
}

/**
 * The registry's record of the model in `file` as version 1 (what the function reads from the
 * registry table at cold start; built here from the file's own contract, outside the timings).
 */
export async function registryRecord(file: string, modelName: string): Promise<ModelVersion> {
  const bytes = new Uint8Array(await readFile(file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const contract = readModelContract(bytes);
  const artifact = {
    bucket: 'local',
    key: `models/${modelName}/1/model.onnx`,
    sha256,
    sizeBytes: bytes.length,
  };
  return {
    modelName,
    version: 1,
    stage: 'Production',
    artifact,
    artifacts: { model: artifact },
    signature: contract.signature,
    output: contract.output,
    metrics: {},
    params: {},
    tags: {},
    lineage: contract.lineage,
    description: 'serving benchmark',
    createdAt: new Date(0).toISOString(),
    createdBy: 'local',
    aliases: [],
  };
}

/** The model in `file`, loaded as the function loads its pinned registry version `record`. */
export async function loadModelFile(
  file: string,
  record: ModelVersion,
  memoryMb: number,
): Promise<LoadedModel> {
  const { modelName } = record;
  return loadServedModel({
    modelName,
    modelVersion: 1,
    memoryMb,
    registry: { getModelVersion: async () => record },
    // The digest is checked on the bytes read here, as on the bytes S3 returns.
    artifacts: { get: async () => new Uint8Array(await readFile(file)) },
    warmUp: async (model) => {
      await scoreRows(model, [warmUpRow(model)]);
    },
  });
}

/** The function's request path for `model`, as an API Gateway proxy handler. */
export function inferenceHandler(model: LoadedModel, maxBatchInstances = 1000): InferenceHandler {
  const metrics = createMetrics({ namespace: 'bench', serviceName: 'inference' });
  const app = createInferenceApp({
    modelName: model.name,
    model: () => model,
    features: {
      read: async () => {
        throw new Error('the benchmark sends raw features only');
      },
    },
    capture: { put: async (records) => ({ delivered: records.length, failed: 0 }) },
    // Signed as deployed (one HMAC per predict): a key of the secret's shape.
    requestIds: requestIds(model.name, { current: randomBytes(48) }),
    metrics,
    maxBatchInstances,
    captureSampleRate: 0,
  });
  let calls = 0;
  return async (event) => {
    try {
      return await app(event, { awsRequestId: `bench-${++calls}` });
    } finally {
      // What middy logMetrics does after each invocation (skipped when empty: it would only warn).
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/**
 * The proxy event of `POST /v1/models/{model}/predict` with `body`: every field API Gateway sends
 * (the app reads a subset, {@link ProxyEvent}).
 */
export function predictEvent(modelName: string, body: string, requestId = 'bench'): ProxyEvent {
  const path = API_ROUTES.predict.replace('{model}', modelName);
  const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  const event = {
    resource: API_ROUTES.predict,
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { model: modelName },
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      path: `/bench${path}`,
      stage: 'bench',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'bench',
      resourcePath: API_ROUTES.predict,
      identity: anonymousIdentity('127.0.0.1', 'bench'),
    },
  };
  return event;
}

/**
 * Cold start after the import: load the model from `file` as the pinned version `record` (what the
 * function reads from the registry table; made by the parent, so no contract parse here warms up
 * the loader's), with the loader's warm-up, then answer one predict request.
 */
export async function coldStart(
  file: string,
  record: ModelVersion,
  memoryMb: number,
  body: string,
): Promise<{ loadMs: number; firstCallMs: number; status: number }> {
  const t0 = performance.now();
  const model = await loadModelFile(file, record, memoryMb);
  const t1 = performance.now();
  const result = await inferenceHandler(model)(predictEvent(record.modelName, body));
  return { loadMs: t1 - t0, firstCallMs: performance.now() - t1, status: result.statusCode };
}
