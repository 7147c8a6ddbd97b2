/**
 * A local stand-in for `arn:aws:states:::sagemaker:createTrainingJob.sync`, for the state machine
 * runner's `serviceIntegrations` (local/state-machine-runner.ts): it runs the job contract
 * (lambdas/training/pipeline/sagemaker-channels.ts) in-process against the emulator's S3 instead
 * of a container, training the project's linear model in place of the user's image.
 *
 * Like the container it reads the channels it is given (train Parquet, config/contract.json),
 * encodes by the contract's encoding, writes model.onnx and metrics.json, and packs them as
 * `<S3OutputPath><TrainingJobName>/output/model.tar.gz`; it answers with the DescribeTrainingJob
 * fields the task's ResultSelector reads. Behaviours for tests:
 * - `no-model`: the job "succeeds" but writes no model.onnx (the unpack step must refuse it);
 * - `fail`: the job ends Failed, raised as `.sync` raises it (`States.TaskFailed`, the job's
 *   description as the cause).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { S3ObjectStore } from '../lambdas/shared/object-store.js';
import { type RawRow, rowsToFrame } from '../lambdas/training/encoding.js';
import { exportLinearModel } from '../lambdas/training/linear/linear-export.js';
import { trainLinearModel } from '../lambdas/training/linear/linear-model.js';
import { ARCHIVE_FIELD, packModelArchive } from '../lambdas/training/pipeline/sagemaker-archive.js';
import {
  CHANNEL_DATA_FILE,
  CONTRACT_FILE,
  parseSagemakerJobContract,
  type SagemakerJobContract,
} from '../lambdas/training/pipeline/sagemaker-channels.js';

export type LocalSagemakerBehaviour = 'train' | 'no-model' | 'fail';

export interface LocalSagemakerOptions {
  /** The emulator's S3. */
  readonly s3: S3Client;
  /** @default 'train' */
  readonly behaviour?: LocalSagemakerBehaviour;
}

/** The CreateTrainingJob request fields the stand-in reads (as the task's Parameters render them). */
interface CreateTrainingJobRequest {
  readonly TrainingJobName: string;
  readonly InputDataConfig: readonly {
    readonly ChannelName: string;
    readonly DataSource: { readonly S3DataSource: { readonly S3Uri: string } };
  }[];
  readonly OutputDataConfig: { readonly S3OutputPath: string };
  readonly HyperParameters?: Readonly<Record<string, string>>;
}

/** DescribeTrainingJob's fields the state machine reads. */
export interface LocalTrainingJobDescription {
  readonly TrainingJobName: string;
  readonly TrainingJobStatus: 'Completed' | 'Failed';
  readonly FailureReason?: string;
  readonly ModelArtifacts?: { readonly S3ModelArtifacts: string };
}

/** The error `.sync` raises when the job ends Failed or Stopped. */
export class SagemakerJobFailed extends Error {
  constructor(description: LocalTrainingJobDescription) {
    super(JSON.stringify(description));
    this.name = 'States.TaskFailed';
  }
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (match === null) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: match[1] as string, key: match[2] as string };
}

async function readObject(s3: S3Client, uri: string): Promise<Uint8Array> {
  const { bucket, key } = parseS3Uri(uri);
  const body = await new S3ObjectStore(s3, bucket).get(key);
  if (body === undefined) throw new Error(`no object at ${uri}`);
  return body;
}

async function readRows(s3: S3Client, uri: string): Promise<RawRow[]> {
  const body = await readObject(s3, uri);
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as RawRow[];
}

/** The user's container, locally: train on the train channel by the contract, export model.onnx. */
function train(contract: SagemakerJobContract, rows: readonly RawRow[]): Uint8Array {
  const features = contract.signature.inputs.map((input) => {
    const encoding = contract.encoding.features.find((f) => f.name === input.name);
    return {
      ...input,
      ...(encoding?.kind === 'categorical' ? { categories: encoding.categories } : {}),
    };
  });
  const labelType =
    contract.task === 'regression' || typeof contract.classes[0] === 'number' ? 'float64' : 'string';
  const frame = rowsToFrame([...features, { name: contract.label, type: labelType }], rows);
  const model = trainLinearModel({ task: contract.task, frame, label: contract.label, features });
  return exportLinearModel(model);
}

/**
 * The local implementation of a `createTrainingJob.sync` task: `(request) => description`, for
 * `serviceIntegrations: { <state name>: localSagemakerTraining({ s3 }) }`.
 */
export function localSagemakerTraining(
  options: LocalSagemakerOptions,
): (input: unknown) => Promise<LocalTrainingJobDescription> {
  const behaviour = options.behaviour ?? 'train';
  return async (input) => {
    const request = input as CreateTrainingJobRequest;
    const name = request.TrainingJobName;
    if (behaviour === 'fail')
      throw new SagemakerJobFailed({
        TrainingJobName: name,
        TrainingJobStatus: 'Failed',
        FailureReason: 'AlgorithmError: the local stand-in was told to fail',
      });
    const channel = (channelName: string) => {
      const found = request.InputDataConfig.find((c) => c.ChannelName === channelName);
      if (found === undefined) throw new Error(`the job has no ${channelName} channel`);
      return found.DataSource.S3DataSource.S3Uri.replace(/\/?$/, '/');
    };
    const contract = parseSagemakerJobContract(
      await readObject(options.s3, `${channel('config')}${CONTRACT_FILE}`),
    );
    const rows = await readRows(options.s3, `${channel('train')}${CHANNEL_DATA_FILE}`);
    const metrics = JSON.stringify({ train_rows: rows.length });
    const entries =
      behaviour === 'no-model'
        ? [{ name: 'metrics.json', body: metrics }]
        : [
            { name: 'model.onnx', body: train(contract, rows) },
            { name: 'metrics.json', body: metrics },
          ];
    const archive = await packModelArchive(entries);
    const output = `${request.OutputDataConfig.S3OutputPath.replace(/\/?$/, '/')}${name}/output/${ARCHIVE_FIELD}`;
    const { bucket, key } = parseS3Uri(output);
    await new S3ObjectStore(options.s3, bucket).put(key, archive, { contentType: 'application/gzip' });
    return {
      TrainingJobName: name,
      TrainingJobStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: output },
    };
  };
}
