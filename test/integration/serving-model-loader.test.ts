import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { versionToDeploy } from '../../bin/cli/commands/serve.js';
import { ModelAliasReader } from '../../lambdas/registry/alias-reader.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import {
  ModelIntegrityError,
  ModelNotDeployedError,
  ModelUnsupportedError,
} from '../../lambdas/serving/errors.js';
import { loadServedModel, NOT_DEPLOYED_MESSAGE } from '../../lambdas/serving/model-loader.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { clients } from '../../lambdas/shared/clients.js';
import { modelPk, versionSk } from '../../lambdas/shared/layout.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { encodeRows } from '../../lambdas/training/encoding.js';
import {
  MODEL_INPUT,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import { writeOnnxModel } from '../../lambdas/training/onnx/writer.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { registerServedModel, servedModelBytes } from '../support/served-model.js';

let registry: ModelRegistryStore;
let aliases: ModelAliasStore;
let tableName: string;
let bucket: string;
let counter = 0;
const freshName = () => `served-${++counter}-${Date.now().toString(36)}`;

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'serve-load-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket: bucket,
  });
  aliases = new ModelAliasStore({ documents: clients.documents(), tableName, principal: 'test' });
});

const load = (
  modelName: string,
  extra: { modelVersion?: number; warmUp?: (m: LoadedModel) => Promise<void> } = {},
) =>
  loadServedModel({
    registry,
    artifacts: new S3ObjectStore(clients.s3(), bucket),
    modelName,
    memoryMb: 1769,
    ...extra,
  });

describe('loading the served model', () => {
  it('loads a pinned version: verified digest, contract, signature, one warm-up, a session that scores', async () => {
    const name = freshName();
    const v1 = await registerServedModel(registry, bucket, name);
    await registerServedModel(registry, bucket, name, servedModelBytes(8));
    const warmed: LoadedModel[] = [];
    const model = await load(name, { modelVersion: 1, warmUp: async (m) => void warmed.push(m) });
    expect(model).toMatchObject({ name, version: 1, sha256: v1.artifacts.model.sha256 });
    expect(model.signature.inputs.map((i) => i.name)).toEqual(['x1', 'x2', 'segment', 'balance']);
    expect(model.output).toMatchObject({ kind: 'binary' });
    expect(model.contract.classes).toHaveLength(2);
    expect(warmed).toHaveLength(1);
    expect(warmed[0]?.sha256).toBe(v1.artifacts.model.sha256);
    expect(model.initMs).toBeGreaterThan(0);
    expect(model.session.inputNames).toEqual([MODEL_INPUT]);
    await model.session.release();
  });

  it('never follows champion: unpinned it serves nothing (ModelNotDeployed), even with champion set', async () => {
    const name = freshName();
    await registerServedModel(registry, bucket, name);
    await aliases.set({ modelName: name, alias: 'champion', version: 1, expectedVersion: null });
    const unpinned = await load(name).catch((e: unknown) => e);
    expect(unpinned).toBeInstanceOf(ModelNotDeployedError);
    expect(unpinned).toMatchObject({ code: 'ModelNotDeployed', name: 'ModelNotDeployedError' });
    expect((unpinned as Error).message).toBe(NOT_DEPLOYED_MESSAGE);
    expect(NOT_DEPLOYED_MESSAGE).toBe(
      'no model version is deployed to this function; run `mlops serve deploy <model> [version]`',
    );
    await expect(load(name, { modelVersion: 5 })).rejects.toThrow(/no registered version 5/);
    await expect(load(name, { modelVersion: 5 })).rejects.toBeInstanceOf(ModelNotDeployedError);
  });

  it('refuses a model without the mlops contract (digest matched) as ModelUnsupported, not an integrity failure', async () => {
    const name = freshName();
    // A valid ONNX model (identity) registered from outside mlops training: no metadata_props.
    const bytes = writeOnnxModel({
      graph: {
        name: 'outside',
        inputs: [{ name: 'x', elemType: 'double', shape: ['N', 4] }],
        outputs: [{ name: 'y', elemType: 'double', shape: ['N', 4] }],
        nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
      },
      opsetImports: [{ domain: '', version: 17 }],
    });
    const contract = readModelContract(servedModelBytes());
    const artifact = await putModelArtifact(clients.s3(), bucket, name, bytes);
    await registry.registerModelVersion({
      modelName: name,
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      signature: contract.signature,
      output: contract.output,
      lineage: {},
    });
    const error = await load(name, { modelVersion: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnsupportedError);
    expect(error).not.toBeInstanceOf(ModelIntegrityError);
    expect(error).toMatchObject({ code: 'ModelUnsupported', name: 'ModelUnsupportedError' });
    expect((error as Error).message).toMatch(/no readable mlops model contract/);
  });

  it('refuses to serve an artifact whose bytes changed after registration, before any warm-up', async () => {
    const name = freshName();
    const v1 = await registerServedModel(registry, bucket, name);
    // Someone rewrites the object at the content-addressed key with other bytes (a valid model, even).
    await clients
      .s3()
      .send(
        new PutObjectCommand({ Bucket: bucket, Key: v1.artifacts.model.key, Body: servedModelBytes(11) }),
      );
    let warmUps = 0;
    const error = await load(name, { modelVersion: 1, warmUp: async () => void warmUps++ }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error).toMatchObject({ code: 'ModelIntegrityError', name: 'ModelIntegrityError' });
    expect((error as Error).message).toContain(`the registry recorded ${v1.artifacts.model.sha256}`);
    expect(warmUps).toBe(0);
  });

  it('refuses a version whose artifact is gone', async () => {
    const name = freshName();
    const v1 = await registerServedModel(registry, bucket, name);
    await clients.s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: v1.artifacts.model.key }));
    const error = await load(name, { modelVersion: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect((error as Error).message).toContain('the artifact is missing');
  });

  it('refuses a version whose record is pinned to another digest than its artifact', async () => {
    const name = freshName();
    await registerServedModel(registry, bucket, name);
    const wrong = 'f'.repeat(64);
    await clients.documents().send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: modelPk(name), sk: versionSk(1) },
        UpdateExpression: 'SET artifacts.model.sha256 = :d, artifact.sha256 = :d',
        ExpressionAttributeValues: { ':d': wrong },
      }),
    );
    const error = await load(name, { modelVersion: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect((error as Error).message).toContain(`the registry recorded ${wrong}`);
  });

  it('gives a session that scores rows encoded by the contract (x1 up, x2 down: positive)', async () => {
    const name = freshName();
    await registerServedModel(registry, bucket, name);
    const model = await load(name, { modelVersion: 1 });
    const x = encodeRows(model.contract.encoding, [{ x1: 1, x2: -1, segment: 'b', balance: 10 }]);
    const out = await model.session.run({
      [MODEL_INPUT]: new ort.Tensor('float64', x.data, [x.rows, x.cols]),
    });
    const p = out[OUTPUT_PROBABILITIES]?.data as Float64Array;
    expect(p[1]).toBeGreaterThan(0.9);
    await model.session.release();
  });
});

describe('the version `mlops serve deploy` pins', () => {
  const reader = async () => new ModelAliasReader({ documents: clients.documents(), tableName });

  it('is the one named, else the number champion names at deploy time; no champion: a clear refusal', async () => {
    const name = freshName();
    await registerServedModel(registry, bucket, name);
    await registerServedModel(registry, bucket, name, servedModelBytes(8));
    await expect(versionToDeploy(reader, name)).rejects.toThrow(
      `model ${name} has no champion alias to deploy`,
    );
    await aliases.set({ modelName: name, alias: 'champion', version: 2, expectedVersion: null });
    expect(await versionToDeploy(reader, name)).toEqual({ version: 2, chosenBy: 'champion' });
    expect(await versionToDeploy(reader, name, 1)).toEqual({ version: 1, chosenBy: 'argument' });
  });
});
