import { randomUUID } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { encodeRows, type RawRow, rowsToFrame } from '../../lambdas/training/encoding.js';
import { modelConfigSchema, type TrainedModelConfig } from '../../lambdas/training/model-config.js';
import {
  MODEL_INPUT,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import type {
  DatasetRef,
  SagemakerJobRef,
  UnpackSagemakerModelEvent,
} from '../../lambdas/training/pipeline/contract.js';
import {
  CHANNEL_DATA_FILE,
  contractKey,
  modelContractOf,
  parseSagemakerJobContract,
  writeSagemakerChannels,
} from '../../lambdas/training/pipeline/sagemaker-channels.js';
import { readSagemakerModel } from '../../lambdas/training/pipeline/sagemaker-model.js';
import { splitFrame } from '../../lambdas/training/split.js';
import { type LocalSagemakerBehaviour, localSagemakerTraining } from '../../local/sagemaker-local.js';
import { prng } from '../support/random.js';

const MODEL = modelConfigSchema.parse({
  name: 'churn-sm',
  task: 'binary',
  label: 'customer:churned',
  features: ['customer:age', 'customer:plan'],
  trainer: {
    algorithm: 'sagemaker',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1',
    hyperparameters: { epochs: 5, lr: 0.1 },
  },
  gates: {},
}) as TrainedModelConfig;
const FEATURES = [
  { name: 'age', type: 'float64', featureView: 'customer' },
  { name: 'plan', type: 'string', featureView: 'customer' },
] as const;

function rows(n: number): RawRow[] {
  const rand = prng(7);
  return Array.from({ length: n }, () => {
    const age = 18 + 60 * rand();
    const plan = ['basic', 'pro', 'max'][Math.floor(3 * rand())] as string;
    return { age, plan, churned: age + (plan === 'basic' ? 20 : 0) + 20 * rand() > 60 ? 1 : 0 };
  });
}

let offlineBucket: string;
let artifactBucket: string;
const s3 = () => clients.s3();

beforeAll(async () => {
  offlineBucket = `offline-${randomUUID()}`;
  artifactBucket = `artifacts-${randomUUID()}`;
  for (const Bucket of [offlineBucket, artifactBucket]) await s3().send(new CreateBucketCommand({ Bucket }));
});

/** Channels written for a fresh run; the request CreateTrainingJob would get (as the task renders it). */
async function prepared() {
  const raw = rows(400);
  const frame = rowsToFrame([...FEATURES, { name: 'churned', type: 'int64' }], raw);
  const split = splitFrame(frame, MODEL.split);
  const runId = randomUUID().replaceAll('-', '');
  const dataset: DatasetRef = {
    hash: 'a'.repeat(64),
    dataKey: 'datasets/churn-sm/x/data.parquet',
    manifestKey: 'datasets/churn-sm/x/manifest.json',
    manifestSha256: 'b'.repeat(64),
    rowCount: raw.length,
  };
  const job = await writeSagemakerChannels(
    {
      model: MODEL,
      runId,
      experiment: MODEL.name,
      dataset,
      frame,
      split,
      features: FEATURES,
      labelColumn: 'churned',
    },
    { offline: new S3ObjectStore(s3(), offlineBucket), offlineBucket, artifactBucket },
  );
  const request = {
    TrainingJobName: job.jobName,
    InputDataConfig: Object.entries(job.channels).map(([ChannelName, S3Uri]) => ({
      ChannelName,
      DataSource: { S3DataSource: { S3Uri, S3DataType: 'S3Prefix' } },
    })),
    OutputDataConfig: { S3OutputPath: job.outputUri },
    HyperParameters: job.hyperparameters,
  };
  const event: UnpackSagemakerModelEvent = {
    model: MODEL.name,
    runId,
    experiment: MODEL.name,
    dataset,
    fingerprint: 'f',
    sagemaker: job,
  };
  return { raw, split, job, request, event, runId, dataset };
}

const deps = () => ({
  artifacts: new S3ObjectStore(s3(), artifactBucket),
  artifactBucket,
  offline: new S3ObjectStore(s3(), offlineBucket),
  models: [MODEL],
});
const runJob = (request: unknown, behaviour: LocalSagemakerBehaviour = 'train') =>
  localSagemakerTraining({ s3: s3(), behaviour })(request);

describe('SageMaker trainer on the emulator', () => {
  it('writes the channels and the job reference under the run', async () => {
    const { job, runId, dataset } = await prepared();
    expect(job.jobName).toBe(`churn-sm-${runId.slice(0, 16)}`);
    expect(job.hyperparameters).toEqual({ epochs: '5', lr: '0.1' });
    expect(job.outputUri).toBe(`s3://${artifactBucket}/runs/churn-sm/${runId}/sagemaker/`);
    expect(job.channels.train).toBe(
      `s3://${offlineBucket}/datasets/churn-sm/${dataset.hash}/channels/${runId}/train/`,
    );
    const offline = new S3ObjectStore(s3(), offlineBucket);
    const keys: string[] = [];
    for await (const key of offline.list(`datasets/churn-sm/${dataset.hash}/channels/${runId}/`))
      keys.push(key);
    expect(keys.map((k) => k.split(`${runId}/`)[1]).sort()).toEqual([
      'config/contract.json',
      `test/${CHANNEL_DATA_FILE}`,
      `train/${CHANNEL_DATA_FILE}`,
      `validation/${CHANNEL_DATA_FILE}`,
    ]);
    const contract = parseSagemakerJobContract(
      (await offline.get(contractKey(MODEL.name, dataset.hash, runId))) as Uint8Array,
    );
    expect(contract).toMatchObject({
      task: 'binary',
      label: 'churned',
      features: ['age', 'plan'],
      classes: [0, 1],
    });
    expect(contract.input.width).toBe(1 + 3);
  });

  it('runs the job locally and unpacks a model that carries the contract and scores held-out rows', async () => {
    const { raw, split, request, event } = await prepared();
    const description = await runJob(request);
    expect(description).toMatchObject({
      TrainingJobStatus: 'Completed',
      ModelArtifacts: {
        S3ModelArtifacts: `${event.sagemaker.outputUri}${event.sagemaker.jobName}/output/model.tar.gz`,
      },
    });
    const model = await readSagemakerModel(event, deps());
    expect(readModelContract(model.onnx)).toEqual(modelContractOf(model.contract));
    expect(model.metrics).toEqual({ train_rows: split.train.length });
    const heldOut = Array.from(split.test, (i) => raw[i] as RawRow);
    const x = encodeRows(model.contract.encoding, heldOut);
    const session = await ort.InferenceSession.create(model.onnx);
    try {
      const out = await session.run({ [MODEL_INPUT]: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
      expect(out[OUTPUT_PROBABILITIES]?.dims).toEqual([heldOut.length, 2]);
    } finally {
      await session.release();
    }
  });

  it('refuses a job that wrote no model.onnx, naming the file', async () => {
    const { request, event } = await prepared();
    await runJob(request, 'no-model');
    const error = await readSagemakerModel(event, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('model.onnx');
    expect((error as ValidationError).rule).toContain('wrote no model.onnx to /opt/ml/model');
  });

  it('raises a failed job as .sync does (States.TaskFailed, the description as cause) and writes nothing', async () => {
    const { request, event } = await prepared();
    const error = await runJob(request, 'fail').catch((e: unknown) => e);
    expect((error as Error).name).toBe('States.TaskFailed');
    expect(JSON.parse((error as Error).message)).toMatchObject({ TrainingJobStatus: 'Failed' });
    const archive = await deps().artifacts.get(
      `runs/churn-sm/${event.runId}/sagemaker/${event.sagemaker.jobName}/output/model.tar.gz`,
    );
    expect(archive).toBeUndefined();
  });

  it('refuses an output URI outside the run, before reading anything', async () => {
    const { event } = await prepared();
    const sagemaker: SagemakerJobRef = {
      ...event.sagemaker,
      outputUri: `s3://${artifactBucket}/models/churn-sm/`,
    };
    const error = await readSagemakerModel({ ...event, sagemaker }, deps()).catch((e: unknown) => e);
    expect((error as ValidationError).field).toBe('sagemaker.outputUri');
  });
});
