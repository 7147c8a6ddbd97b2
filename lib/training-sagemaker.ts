/**
 * The SageMaker trainer's task in a model's training state machine: CreateTrainingJob `.sync` with
 * the user's image, reading the channels PrepareTraining wrote (`$.prepared.sagemaker`, the
 * contract's SagemakerJobRef) and writing model.tar.gz under the run's artifacts.
 *
 * The job runs as its own role, limited to what one job of this model touches: the channels of its
 * training sets (offline bucket, `datasets/<model>/<hash>/channels/…`, read and listed), its runs'
 * SageMaker output (artifact bucket, `runs/<model>/<run>/sagemaker/…`, write), its image's ECR
 * repository (pull) and the SageMaker training log group. (CDK's default role for this task holds
 * broad `*` permissions; this one replaces it.) The state machine's own statements for `.sync`
 * (CreateTrainingJob/Describe/Stop, PassRole for this role only, the managed EventBridge rule) come
 * from CDK; {@link sagemakerTaskFindings} names the nag findings they raise on the state machine.
 */
import { Aws, Duration, Size, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { OFFLINE_PREFIX, runArtifactPrefix } from '../lambdas/shared/layout.js';
import type { TrainedModelConfig } from '../lambdas/training/model-config.js';
import { SAGEMAKER_CHANNELS } from '../lambdas/training/pipeline/sagemaker-channels.js';
import { acknowledge, type NagFinding } from './nag.js';

/** Where PrepareTraining's SagemakerJobRef sits in the state (the state machine's ResultPath + `.sagemaker`). */
export const SAGEMAKER_JOB_PATH = '$.prepared.sagemaker';
/** The log group SageMaker training jobs write to. */
export const SAGEMAKER_TRAINING_LOG_GROUP = '/aws/sagemaker/TrainingJobs';

export interface SagemakerTrainingTaskProps {
  /** A trained model whose trainer is `sagemaker`. */
  readonly model: TrainedModelConfig;
  /** Where the job writes model.tar.gz (`runs/<model>/<run>/sagemaker/`). */
  readonly artifactBucket: s3.IBucket;
  /** Where the job's channels are (`datasets/<model>/<hash>/channels/<run>/`). */
  readonly offlineBucket: s3.IBucket;
  /**
   * Where the job's outcome goes in the state: `{ jobName, modelArtifacts }` (the DescribeTrainingJob
   * output is large, and the next step reads the job from `$.prepared.sagemaker`).
   * @default '$.sagemakerJob'
   */
  readonly resultPath?: string;
}

/** The ECR repository ARN of an image URI (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>[:tag|@digest]`). */
export function ecrRepositoryArn(image: string): string {
  const match =
    /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([a-z0-9._/-]+?)(:[\w.-]+|@sha256:[0-9a-f]{64})?$/.exec(
      image,
    );
  if (match === null) throw new Error(`trainer.image: must be an ECR image URI, not ${image}`);
  const [, account, region, china, repository] = match;
  return `arn:${china ? 'aws-cn' : 'aws'}:ecr:${region}:${account}:repository/${repository}`;
}

/** The key pattern of a model's channels in the offline bucket (every training set, every run). */
export const channelKeys = (model: string): string => `${OFFLINE_PREFIX.datasets}${model}/*/channels/*`;
/** The key pattern of a model's SageMaker output in the artifact bucket (every run). */
export const sagemakerOutputKeys = (model: string): string => `${runArtifactPrefix(model, '*')}sagemaker/*`;

/**
 * An S3 location read from the state, granting nothing: `S3Location.fromJsonExpression` would grant
 * the job role s3:GetObject, s3:ListBucket and s3:PutObject on `*` (it cannot know the bucket); the
 * role's own statements already cover the model's prefixes.
 */
class StateS3Location extends tasks.S3Location {
  constructor(private readonly path: string) {
    super();
  }

  bind(): tasks.S3LocationConfig {
    return { uri: sfn.JsonPath.stringAt(this.path) };
  }
}

/** The ARN form nag prints for a bucket's ARN. */
function bucketArnRef(bucket: s3.IBucket): string {
  const cfn = bucket.node.defaultChild;
  if (cfn === undefined) throw new Error(`${bucket.node.path} has no CloudFormation resource`);
  return `<${Stack.of(bucket).getLogicalId(cfn as never)}.Arn>`;
}

/** The job's role: the channels, the output, the image and the logs of this model's jobs only. */
function jobRole(scope: Construct, id: string, props: SagemakerTrainingTaskProps, image: string): iam.Role {
  const { model, offlineBucket, artifactBucket } = props;
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
    description: `SageMaker training jobs of model ${model.name}`,
  });
  const logGroupArn = `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:${SAGEMAKER_TRAINING_LOG_GROUP}:*`;
  const statements = [
    new iam.PolicyStatement({
      sid: 'ReadChannels',
      actions: ['s3:GetObject'],
      resources: [offlineBucket.arnForObjects(channelKeys(model.name))],
    }),
    new iam.PolicyStatement({
      sid: 'ListChannels',
      actions: ['s3:ListBucket'],
      resources: [offlineBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [channelKeys(model.name)] } },
    }),
    new iam.PolicyStatement({
      sid: 'WriteOutput',
      actions: ['s3:PutObject'],
      resources: [artifactBucket.arnForObjects(sagemakerOutputKeys(model.name))],
    }),
    new iam.PolicyStatement({
      sid: 'PullImage',
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      resources: [ecrRepositoryArn(image)],
    }),
    new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'TrainingLogs',
      actions: [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:DescribeLogStreams',
        'logs:PutLogEvents',
      ],
      resources: [logGroupArn],
    }),
  ];
  for (const statement of statements) role.addToPolicy(statement);
  // S3-managed buckets need nothing more; a KMS-encrypted one must let the job decrypt and encrypt.
  offlineBucket.encryptionKey?.grantDecrypt(role);
  artifactBucket.encryptionKey?.grantEncrypt(role);
  acknowledge(
    role,
    {
      id: `IAM5[Resource::${bucketArnRef(offlineBucket)}/${channelKeys(model.name)}]`,
      reason: `Reads the SageMaker channels of ${model.name}'s training sets only (one prefix per set and run).`,
    },
    {
      id: `IAM5[Resource::${bucketArnRef(artifactBucket)}/${sagemakerOutputKeys(model.name)}]`,
      reason: `Writes the SageMaker output of ${model.name}'s runs only.`,
    },
    {
      id: 'IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken takes no resource; the pull itself is limited to the image repository.',
    },
    {
      id: `IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${SAGEMAKER_TRAINING_LOG_GROUP}:*]`,
      reason: 'SageMaker names a log stream per job and instance in its training log group.',
    },
  );
  return role;
}

/**
 * CreateTrainingJob `.sync` for `props.model` (sagemaker trainer): image, instances, volume and
 * runtime from its config; job name, channels, output and hyperparameters from `$.prepared.sagemaker`.
 */
export function sagemakerTrainingTask(
  scope: Construct,
  id: string,
  props: SagemakerTrainingTaskProps,
): tasks.SageMakerCreateTrainingJob {
  const { model } = props;
  const trainer = model.trainer;
  if (trainer.algorithm !== 'sagemaker')
    throw new Error(`models.${model.name}.trainer.algorithm: must be sagemaker, not ${trainer.algorithm}`);
  const role = jobRole(scope, `${id}JobRole`, props, trainer.image);
  const at = (field: string) => `${SAGEMAKER_JOB_PATH}.${field}`;
  return new tasks.SageMakerCreateTrainingJob(scope, id, {
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    role,
    trainingJobName: sfn.JsonPath.stringAt(at('jobName')),
    algorithmSpecification: {
      trainingImage: tasks.DockerImage.fromRegistry(trainer.image),
      trainingInputMode: tasks.InputMode.FILE,
    },
    hyperparameters: sfn.JsonPath.objectAt(at('hyperparameters')),
    inputDataConfig: SAGEMAKER_CHANNELS.map((channel) => ({
      channelName: channel,
      dataSource: {
        s3DataSource: {
          s3DataType: tasks.S3DataType.S3_PREFIX,
          s3Location: new StateS3Location(at(`channels.${channel}`)),
        },
      },
    })),
    outputDataConfig: {
      s3OutputLocation: new StateS3Location(at('outputUri')),
      ...(props.artifactBucket.encryptionKey ? { encryptionKey: props.artifactBucket.encryptionKey } : {}),
    },
    resourceConfig: {
      instanceCount: trainer.instanceCount,
      instanceType: new ec2.InstanceType(trainer.instanceType.replace(/^ml\./, '')),
      volumeSize: Size.gibibytes(trainer.volumeSizeGb),
    },
    stoppingCondition: { maxRuntime: Duration.seconds(trainer.maxRuntimeSeconds) },
    resultSelector: {
      'jobName.$': '$.TrainingJobName',
      'status.$': '$.TrainingJobStatus',
      'modelArtifacts.$': '$.ModelArtifacts.S3ModelArtifacts',
    },
    resultPath: props.resultPath ?? '$.sagemakerJob',
  });
}

/**
 * The nag findings the `.sync` task's statements raise on the state machine that runs it
 * (acknowledge them there): job names come from the state, so CDK scopes the job actions to
 * `training-job/*`, and `sagemaker:ListTags` takes `*`.
 */
export function sagemakerTaskFindings(scope: Construct): NagFinding[] {
  const stack = Stack.of(scope);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return [
    {
      id: `IAM5[Resource::arn:<AWS::Partition>:sagemaker:${region}:${account}:training-job/*]`,
      reason:
        'Training job names are made per execution (<model>-<run id>), so the .sync task covers training-job/*.',
    },
    {
      id: 'IAM5[Resource::*]',
      reason: 'sagemaker:ListTags, which the .sync integration calls, takes no resource.',
    },
  ];
}
