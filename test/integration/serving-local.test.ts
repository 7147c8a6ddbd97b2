/**
 * Local serving: the fixture stack's serving function, its version, `live` alias and capture stream
 * provisioned on the emulator from the template; the HTTP adapter routing by the alias's weights as
 * the emulator holds them, each Lambda version answering with its own pinned configuration; and
 * `pinModelVersion` publishing, checking and refusing versions.
 */

import { PutRecordCommand } from '@aws-sdk/client-firehose';
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import type { ErrorBody } from '../../lambdas/serving/contract.js';
import { DeploymentRefusedError, pinModelVersion } from '../../lambdas/serving/deploy.js';
import { clients } from '../../lambdas/shared/clients.js';
import { captureHourPrefix, ENV, SERVING_ALIAS } from '../../lambdas/shared/layout.js';
import {
  API_GATEWAY_MAX_BODY_BYTES,
  type HttpAdapter,
  pickVersion,
  servingFunctionsOf,
  startHttpAdapter,
} from '../../local/http-adapter.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { SERVED_MODEL } from '../fixtures/harness-stack.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';
import { prng } from '../support/random.js';

let local: LocalStack;
let adapter: HttpAdapter;
let functionName: string;
/** The adapter's draws for picking a version by the alias's weights (a test may reseed it). */
let draw = prng(1);

beforeAll(async () => {
  local = await startLocalStack(await assemblyFor(harnessFixture('ServingFixture')), { prefix: 'serve-' });
  const functions = servingFunctionsOf(local.stack, local.provisioned);
  functionName = functions[SERVED_MODEL] ?? '';
  // aliasCacheMs 0: every request reads the alias, so a changed alias is served at once.
  adapter = await startHttpAdapter({
    lambdas: local.lambdas,
    functions,
    port: 0,
    aliasCacheMs: 0,
    random: () => draw(),
  });
});

afterAll(async () => {
  await adapter?.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: Record<string, unknown>;
}

async function call(method: string, path: string, body?: string | Buffer): Promise<Answer> {
  const response = await fetch(`${adapter.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

const predict = (body: unknown = { features: { x: 1 } }) =>
  call('POST', `/v1/models/${SERVED_MODEL}/predict`, JSON.stringify(body));

const alias = () =>
  clients.lambda().send(new GetAliasCommand({ FunctionName: functionName, Name: SERVING_ALIAS }));

describe('provisioning the serving resources from the template', () => {
  it('creates the function with its template environment, publishes its version and points live at it', async () => {
    expect(functionName).toMatch(/^serve-/);
    const latest = await clients
      .lambda()
      .send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    expect(latest.Environment?.Variables).toMatchObject({
      [ENV.modelName]: SERVED_MODEL,
      [ENV.modelVersion]: '1',
      [ENV.captureStream]:
        local.provisioned.deliveryStreams[
          Object.keys(local.provisioned.deliveryStreams).find((id) => id.startsWith('Capture')) ?? ''
        ],
    });
    expect(latest.Handler).toBe('index.handler');
    expect(latest.Runtime).toBe('nodejs24.x');
    const versions = await clients
      .lambda()
      .send(new ListVersionsByFunctionCommand({ FunctionName: functionName }));
    expect(versions.Versions?.map((v) => v.Version)).toEqual(['$LATEST', '1']);
    expect((await alias()).FunctionVersion).toBe('1');
  });

  it('creates the capture stream, which renders the template prefix into date and hour partitions', async () => {
    const [streamId] = Object.keys(local.provisioned.deliveryStreams);
    const stream = local.provisioned.deliveryStreams[streamId ?? ''] ?? '';
    expect(stream).toMatch(/^serve-/);
    const before = Date.now();
    await clients.firehose().send(
      new PutRecordCommand({
        DeliveryStreamName: stream,
        Record: { Data: new TextEncoder().encode('{"kind":"prediction"}\n') },
      }),
    );
    const bucket = local.resourceName('Data');
    const prefixes = [captureHourPrefix(SERVED_MODEL, before), captureHourPrefix(SERVED_MODEL, Date.now())];
    const listed = await Promise.all(
      [...new Set(prefixes)].map((Prefix) =>
        clients.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix })),
      ),
    );
    expect(listed.flatMap((l) => l.Contents ?? []).length).toBeGreaterThan(0);
  });
});

describe('the HTTP adapter', () => {
  it('answers a predict with the version behind live, as a REST API proxy event', async () => {
    const answer = await predict({ features: { x: 1 } });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      model: SERVED_MODEL,
      version: 1,
      functionVersion: '1',
      echo: { features: { x: 1 } },
    });
    expect(answer.json.requestId).toBe(answer.headers['x-amzn-requestid']);
    const health = await call('GET', '/v1/health');
    expect(health).toMatchObject({ status: 200, json: { status: 'ok' } });
  });

  it('answers what API Gateway answers itself: unknown model, route and method, a body over 10 MB, a body failing its schema', async () => {
    // Deployed, each model has literal resources: an unknown model, route or method is
    // MISSING_AUTHENTICATION_TOKEN, a 403 in the ErrorBody shape (lib/inference-api.ts).
    for (const [method, path] of [
      ['POST', '/v1/models/nope/predict'],
      ['GET', '/v2/nothing'],
      ['GET', `/v1/models/${SERVED_MODEL}/predict`],
      ['POST', '/v1/health'],
    ] as const) {
      const answer = await call(method, path, method === 'POST' ? '{}' : undefined);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect((answer.json as unknown as ErrorBody).error).toMatchObject({
        code: 'Forbidden',
        message: expect.stringMatching(/^Missing Authentication Token/),
      });
    }
    const huge = await call(
      'POST',
      `/v1/models/${SERVED_MODEL}/predict`,
      Buffer.alloc(API_GATEWAY_MAX_BODY_BYTES + 1, 0x20),
    );
    expect(huge.status).toBe(413);
    expect((huge.json as unknown as ErrorBody).error.code).toBe('PayloadTooLarge');
    // The request validator: not JSON, or not the schema's shape, never reaches the function.
    for (const [body, message] of [
      ['{not json', /^\[the body is not valid JSON/],
      ['{"instances":[]}', /array is too short: must have at least 1 elements but instance has 0/],
      [
        '{"features":[1]}',
        /instance type \(array\) does not match any allowed primitive type \(allowed: \["object"\]\)/,
      ],
    ] as const) {
      const refused = await call('POST', `/v1/models/${SERVED_MODEL}/predict`, body);
      expect(refused.status, body).toBe(400);
      expect((refused.json as unknown as ErrorBody).error, body).toMatchObject({
        code: 'InvalidRequest',
        message: expect.stringMatching(message),
      });
      expect(refused.json.echo, body).toBeUndefined();
    }
    const feedback = await call('POST', `/v1/models/${SERVED_MODEL}/feedback`, '{"outcome":1}');
    expect(feedback.status).toBe(400);
    expect((feedback.json as unknown as ErrorBody).error.message).toContain(
      'object has missing required properties (["requestId"])',
    );
  });

  it('mlops predict calls it and prints the answer; an error answer names the code and exits by status', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: (text: string) => void out.push(text),
      stderr: (text: string) => void err.push(text),
    };
    const ok = await runCli(
      ['predict', SERVED_MODEL, '--features', 'x=1,s=a,n=null', '--url', adapter.url, '--json'],
      io,
    );
    expect(err.join('')).toBe('');
    expect(ok).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({
      model: SERVED_MODEL,
      echo: { features: { x: 1, s: 'a', n: null } },
    });
    err.length = 0;
    const unknown = await runCli(['predict', 'nope', '--entity', 'id=1', '--url', adapter.url, '--json'], io);
    expect(unknown).toBe(2);
    expect(err.join('')).toMatch(/Forbidden Missing Authentication Token/);
  });

  it('picks versions by cumulative weight', () => {
    const routing = { version: '2', weights: { '1': 0.3 } };
    expect(pickVersion(routing, 0)).toBe('1');
    expect(pickVersion(routing, 0.2999)).toBe('1');
    expect(pickVersion(routing, 0.3)).toBe('2');
    expect(pickVersion(routing, 0.9999)).toBe('2');
    expect(pickVersion({ version: '5', weights: {} }, 0)).toBe('5');
  });
});

describe('pinModelVersion and the alias weights', () => {
  const invokeReadiness = (fn: string, version: string, event: unknown) =>
    local.lambdas.invokeVersion(fn, version, event);

  it('publishes a version pinned to the model version and points live at it; again, nothing changes', async () => {
    const first = await pinModelVersion({ functionName, model: SERVED_MODEL, version: 2, invokeReadiness });
    expect(first).toMatchObject({ functionVersion: '2', previousFunctionVersion: '1', changed: true });
    expect((await alias()).FunctionVersion).toBe('2');
    const pinned = await clients
      .lambda()
      .send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: '2' }));
    expect(pinned.Environment?.Variables?.[ENV.modelVersion]).toBe('2');
    expect(pinned.Environment?.Variables?.[ENV.modelName]).toBe(SERVED_MODEL);
    expect((await predict()).json).toMatchObject({ version: 2, functionVersion: '2' });

    const again = await pinModelVersion({ functionName, model: SERVED_MODEL, version: 2, invokeReadiness });
    expect(again).toMatchObject({ functionVersion: '2', changed: false });
    const versions = await clients
      .lambda()
      .send(new ListVersionsByFunctionCommand({ FunctionName: functionName }));
    expect(versions.Versions?.map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);
  });

  it('refuses a version whose health check answers 503, naming why, and live keeps serving the previous one', async () => {
    const refused = pinModelVersion({ functionName, model: SERVED_MODEL, version: 13, invokeReadiness });
    await expect(refused).rejects.toThrow(DeploymentRefusedError);
    await expect(refused).rejects.toThrow(/ModelIntegrityError.*alias live still points to version 2/);
    expect((await alias()).FunctionVersion).toBe('2');
    expect((await predict()).json).toMatchObject({ version: 2 });
  });

  it('refuses a model the function does not serve', async () => {
    await expect(
      pinModelVersion({ functionName, model: 'other', version: 2, invokeReadiness }),
    ).rejects.toThrow(/serves "echo", not "other"/);
  });

  it('routes by the weights the emulator holds: 30 % to version 1 over 2000 requests, each version with its own model version', async () => {
    await clients.lambda().send(
      new UpdateAliasCommand({
        FunctionName: functionName,
        Name: SERVING_ALIAS,
        FunctionVersion: '2',
        RoutingConfig: { AdditionalVersionWeights: { '1': 0.3 } },
      }),
    );
    const n = 2000;
    // Seeded: every request draws once, so the share of version 1 is known in advance.
    const SEED = 30;
    draw = prng(SEED);
    const reference = prng(SEED);
    const expected = Array.from({ length: n }, () => reference()).filter((r) => r < 0.3).length;
    const counts: Record<string, number> = {};
    for (let start = 0; start < n; start += 50) {
      const answers = await Promise.all(Array.from({ length: Math.min(50, n - start) }, () => predict()));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        const { version, functionVersion } = answer.json as { version: number; functionVersion: string };
        // Version 1 was published pinned to model version 1, version 2 to model version 2.
        expect(String(version)).toBe(functionVersion);
        counts[functionVersion] = (counts[functionVersion] ?? 0) + 1;
      }
    }
    const p = 0.3;
    const sigma = Math.sqrt(n * p * (1 - p)); // ≈ 20.5
    expect(Math.abs(expected - n * p)).toBeLessThan(4 * sigma); // the seed draws a typical sample
    expect(counts['1']).toBe(expected);
    expect((counts['1'] ?? 0) + (counts['2'] ?? 0)).toBe(n);
  });
});
