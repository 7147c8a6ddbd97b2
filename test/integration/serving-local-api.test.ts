/**
 * The real inference function behind the local HTTP adapter: the app synthesized with a served
 * model (its bundle, the onnxruntime layer, its version and `live` alias and capture stream
 * provisioned on the emulator), `pinModelVersion` deploying a registered version through the
 * function's own health check (and refusing one pinned to the wrong digest), and a fuzz of
 * 10,000 random and malformed bodies over HTTP answered with 2xx or 4xx only.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import {
  type ErrorBody,
  LAMBDA_SYNC_PAYLOAD_BYTES,
  MAX_BODY_BYTES,
  type PredictResponse,
} from '../../lambdas/serving/contract.js';
import { DeploymentRefusedError, healthCheckEvent, pinModelVersion } from '../../lambdas/serving/deploy.js';
import type { ProxyEvent } from '../../lambdas/serving/http.js';
import { clients } from '../../lambdas/shared/clients.js';
import { API_ROUTES, modelPk, versionSk } from '../../lambdas/shared/layout.js';
import { type HttpAdapter, servingFunctionsOf, startHttpAdapter } from '../../local/http-adapter.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { assemblyFor } from '../support/assemblies.js';
import { type FuzzSchema, fuzzBodies } from '../support/fuzz-bodies.js';
import { registerServedModel, SEGMENTS, servedModelBytes, servedViews } from '../support/served-model.js';

const MODEL = 'served';
const BODIES = 10_000;
const MAX_BATCH = 20;

let local: LocalStack;
let adapter: HttpAdapter;
let functionName: string;
let functions: Record<string, string>;
const invokeReadiness = (fn: string, version: string, event: unknown) =>
  local.lambdas.invokeVersion(fn, version, event);

beforeAll(async () => {
  const assembly = await assemblyFor({
    context: {
      mlops: {
        stackName: 'ServeLocalStack',
        featureViews: servedViews,
        models: [{ name: MODEL }],
        serving: { maxBatchInstances: MAX_BATCH, captureSampleRate: 0.1 },
      },
    },
  });
  local = await startLocalStack(assembly, { prefix: 'serve-api-' });
  const registryTable = local.resourceName('ModelRegistryTable');
  const artifactBucket = local.resourceName('ModelRegistryArtifacts');
  const registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: registryTable,
    artifactBucket,
  });
  // Version 1 as trained; version 2's record pinned to another digest than its artifact's.
  await registerServedModel(registry, artifactBucket, MODEL);
  await registerServedModel(registry, artifactBucket, MODEL, servedModelBytes(31));
  await clients.documents().send(
    new UpdateCommand({
      TableName: registryTable,
      Key: { pk: modelPk(MODEL), sk: versionSk(2) },
      UpdateExpression: 'SET artifacts.model.sha256 = :d, artifact.sha256 = :d',
      ExpressionAttributeValues: { ':d': 'e'.repeat(64) },
    }),
  );
  functions = servingFunctionsOf(local.stack, local.provisioned);
  functionName = functions[MODEL] ?? '';
  // aliasCacheMs 0: every request reads the alias, so a deploy is served at once (no waiting).
  adapter = await startHttpAdapter({ lambdas: local.lambdas, functions, port: 0, aliasCacheMs: 0 });
});

afterAll(async () => {
  await adapter?.close();
});

async function post(body: string | Uint8Array, contentType: string | undefined = 'application/json') {
  const response = await fetch(`${adapter.url}${API_ROUTES.predict.replace('{model}', MODEL)}`, {
    method: 'POST',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body,
  });
  return { status: response.status, text: await response.text() };
}

const raw = { features: { x1: 0.5, x2: -0.2, segment: 'b', balance: 12 } };

describe('the inference function behind the local adapter', () => {
  it('builds events the inference app reads', () => {
    const event: ProxyEvent = healthCheckEvent();
    expect(event.resource).toBe(API_ROUTES.health);
  });

  it('answers ModelNotDeployed while live points at the bootstrap version cdk deploy published', async () => {
    expect(functionName).toMatch(/^serve-api-/);
    const answer = await post(JSON.stringify(raw));
    expect(answer.status).toBe(503);
    expect((JSON.parse(answer.text) as ErrorBody).error).toMatchObject({
      code: 'ModelNotDeployed',
      message: 'no model version is deployed to this function; run `mlops serve deploy <model> [version]`',
    });
    // GET /v1/health is the API's mock integration: up, whatever the function can serve; the
    // function's own health route (the readiness check, invoked directly) still answers 503.
    const health = await fetch(`${adapter.url}${API_ROUTES.health}`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const direct = (await local.lambdas.invokeVersion(functionName, '1', healthCheckEvent())) as {
      statusCode: number;
    };
    expect(direct.statusCode).toBe(503);
  });

  it('deploys version 1 through its health check and serves it', async () => {
    const result = await pinModelVersion({ functionName, model: MODEL, version: 1, invokeReadiness });
    expect(result).toMatchObject({ functionVersion: '2', previousFunctionVersion: '1', changed: true });
    const answer = await post(JSON.stringify(raw));
    expect(answer.status, answer.text).toBe(200);
    const body = JSON.parse(answer.text) as PredictResponse;
    expect(body).toMatchObject({ model: MODEL, version: 1 });
    expect(body.predictions).toHaveLength(1);
    expect(body.predictions[0]?.score).toBeGreaterThan(0.5);
  });

  it('refuses version 2, whose record names another digest, and live keeps serving version 1', async () => {
    const refused = pinModelVersion({ functionName, model: MODEL, version: 2, invokeReadiness });
    await expect(refused).rejects.toThrow(DeploymentRefusedError);
    await expect(refused).rejects.toThrow(/ModelIntegrityError/);
    const answer = await post(JSON.stringify(raw));
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.text) as PredictResponse).version).toBe(1);
  });

  it('answers what the gateway answers before the function: bad JSON, a bad shape, an unknown model', async () => {
    const notJson = await post('{"features":');
    expect(notJson.status).toBe(400);
    expect((JSON.parse(notJson.text) as ErrorBody).error).toMatchObject({
      code: 'InvalidRequest',
      message: expect.stringMatching(/^\[the body is not valid JSON/),
    });
    const empty = await post(JSON.stringify({ instances: [] }));
    expect(empty.status).toBe(400);
    expect((JSON.parse(empty.text) as ErrorBody).error.message).toMatch(/array is too short/);
    // Another content type is not validated: the function answers it.
    const text = await post(JSON.stringify(raw), 'text/plain');
    expect(text.status).toBe(415);
    expect((JSON.parse(text.text) as ErrorBody).error.code).toBe('UnsupportedMediaType');
    const unknown = await fetch(`${adapter.url}${API_ROUTES.predict.replace('{model}', 'nope')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(raw),
    });
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as ErrorBody).error.code).toBe('Forbidden');
  });

  it("refuses an event over Lambda's 6 MB invoke limit as the gateway does; a body under it reaches the function", async () => {
    const deployed = await pinModelVersion({ functionName, model: MODEL, version: 1, invokeReadiness });
    if (deployed.changed) await new Promise((resolve) => setTimeout(resolve, 1_100));
    const bodyOf = (filler: string) => `{"features":{"x1":"${filler}"}}`;
    const overhead = bodyOf('').length;
    // Exactly MAX_BODY_BYTES: the function takes it and refuses the string for a float feature.
    const atLimit = await post(bodyOf('x'.repeat(MAX_BODY_BYTES - overhead)));
    expect(atLimit.status, atLimit.text).toBe(400);
    expect((JSON.parse(atLimit.text) as ErrorBody).error.code).toBe('InvalidFeatureType');
    // One byte over: the function's own PayloadTooLarge (its event is still under Lambda's limit).
    const overBody = await post(bodyOf('x'.repeat(MAX_BODY_BYTES - overhead + 1)));
    expect(overBody.status, overBody.text).toBe(413);
    expect((JSON.parse(overBody.text) as ErrorBody).error).toMatchObject({
      code: 'PayloadTooLarge',
      message: `the body must be at most ${MAX_BODY_BYTES} bytes, not ${MAX_BODY_BYTES + 1}`,
    });
    // A body under MAX_BODY_BYTES whose escapes double in the event: over Lambda's limit, the
    // gateway answers 413 without invoking the function.
    const escaped = bodyOf('\\"'.repeat(Math.ceil(LAMBDA_SYNC_PAYLOAD_BYTES / 4) + 1000));
    expect(Buffer.byteLength(escaped)).toBeLessThan(MAX_BODY_BYTES);
    const overEvent = await post(escaped);
    expect(overEvent.status, overEvent.text.slice(0, 300)).toBe(413);
    expect((JSON.parse(overEvent.text) as ErrorBody).error).toMatchObject({
      code: 'PayloadTooLarge',
      message: expect.stringMatching(/over Lambda's limit of 6291456 bytes for a synchronous invocation/),
    });
  });

  it(`answers ${BODIES} random and malformed bodies over HTTP with 2xx or 4xx only`, async () => {
    const schema: FuzzSchema = {
      features: [
        { name: 'x1', type: 'float64' },
        { name: 'x2', type: 'float64' },
        { name: 'segment', type: 'string', categories: SEGMENTS },
        { name: 'balance', type: 'float64' },
      ],
      entity: { name: 'customer_id', ids: ['c1', 'c2'] },
      maxBatchInstances: MAX_BATCH,
    };
    // Version 1 behind live (idempotent when the deploy test ran first).
    await pinModelVersion({ functionName, model: MODEL, version: 1, invokeReadiness });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // Thousands of EMF documents and log lines: kept out of the test output.
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    // Its own adapter, reading the alias once (after the deploy above), not on each of the bodies.
    const fuzzAdapter = await startHttpAdapter({ lambdas: local.lambdas, functions, port: 0 });
    const byStatus = new Map<number, number>();
    try {
      const bodies = [...fuzzBodies(20261204, BODIES, schema)];
      for (let start = 0; start < bodies.length; start += 16) {
        const batch = bodies.slice(start, start + 16);
        const answers = await Promise.all(
          batch.map(async (fuzz) => {
            const path = API_ROUTES[fuzz.route].replace('{model}', MODEL);
            const body =
              fuzz.body === null
                ? undefined
                : fuzz.isBase64Encoded
                  ? Buffer.from(fuzz.body, 'base64')
                  : fuzz.body;
            const response = await fetch(`${fuzzAdapter.url}${path}`, {
              method: 'POST',
              headers: fuzz.contentType === undefined ? {} : { 'content-type': fuzz.contentType },
              ...(body === undefined ? {} : { body }),
            });
            return { fuzz, status: response.status, text: await response.text() };
          }),
        );
        for (const { fuzz, status, text } of answers) {
          byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
          const what = `${fuzz.kind}: ${String(fuzz.body).slice(0, 200)} → ${status} ${text.slice(0, 300)}`;
          expect(status, what).toBeGreaterThanOrEqual(200);
          expect(status, what).toBeLessThan(500);
          if (status >= 400) expect(() => JSON.parse(text) as ErrorBody, what).not.toThrow();
        }
      }
    } finally {
      await fuzzAdapter.close();
      quiet.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect([...byStatus.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect([...byStatus.keys()].some((s) => s >= 400)).toBe(true);
  });
});
