import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfigSchema, type TrainedModelConfig } from '../../lambdas/training/model-config.js';
import { cdkJsonContext } from '../../lib/app.js';
import { AcknowledgementAudit, acknowledge } from '../../lib/nag.js';
import { secureBucket } from '../../lib/secure-bucket.js';
import {
  ecrRepositoryArn,
  sagemakerTaskFindings,
  sagemakerTrainingTask,
} from '../../lib/training-sagemaker.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
interface Statement {
  readonly Sid?: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
  readonly Condition?: unknown;
}

const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-trainer:3';
const MODEL = modelConfigSchema.parse({
  name: 'churn',
  task: 'binary',
  label: 'customer:churned',
  features: ['customer:age'],
  trainer: {
    algorithm: 'sagemaker',
    image: IMAGE,
    instanceType: 'ml.m5.2xlarge',
    instanceCount: 2,
    volumeSizeGb: 50,
    maxRuntimeSeconds: 7200,
    hyperparameters: { epochs: 10 },
  },
  gates: {},
}) as TrainedModelConfig;

let resources: Resources;
let state: Record<string, unknown>;

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-sagemaker-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  const stack = new Stack(app, 'SagemakerTask', { env: { account: '123456789012', region: 'eu-west-1' } });
  const offline = secureBucket(stack, 'Offline', {});
  const artifacts = secureBucket(stack, 'Artifacts', {});
  const task = sagemakerTrainingTask(stack, 'TrainOnSagemaker', {
    model: MODEL,
    artifactBucket: artifacts,
    offlineBucket: offline,
  });
  const machine = new sfn.StateMachine(stack, 'Pipeline', {
    definitionBody: sfn.DefinitionBody.fromChainable(task),
  });
  acknowledge(machine, ...sagemakerTaskFindings(machine));
  // Scaffolding of this test (the real stack logs, traces and keeps access logs): not the task's findings.
  for (const bucket of [offline, artifacts]) acknowledge(bucket, { id: 'S1', reason: 'test scaffold' });
  acknowledge(machine, { id: 'SF1', reason: 'test scaffold' }, { id: 'SF2', reason: 'test scaffold' });
  // The app's nag pack and audit: an unacknowledged finding, or an acknowledgement without one, fails synthesis.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }), new AcknowledgementAudit());
  const template = app.synth().getStackByName(stack.stackName).template as { Resources: Resources };
  resources = template.Resources;
  const machineResource = Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const definition = machineResource?.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  const text = definition['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
  state = (JSON.parse(text) as { States: Record<string, Record<string, unknown>> }).States
    .TrainOnSagemaker as Record<string, unknown>;
});

function policyStatements(prefix: string): Statement[] {
  const policies = Object.entries(resources).filter(
    ([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::IAM::Policy',
  );
  expect(policies, prefix).toHaveLength(1);
  const document = policies[0]?.[1].Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
  return document?.Statement ?? [];
}

describe('SageMaker training task', () => {
  it('runs CreateTrainingJob as a .sync job', () => {
    expect(state.Resource).toMatch(/^arn:<ref>:states:::sagemaker:createTrainingJob\.sync$/);
  });

  it("takes the job's name, channels, output and hyperparameters from $.prepared.sagemaker", () => {
    const p = state.Parameters as Record<string, unknown>;
    expect(p['TrainingJobName.$']).toBe('$.prepared.sagemaker.jobName');
    expect(p['HyperParameters.$']).toBe('$.prepared.sagemaker.hyperparameters');
    expect(p.OutputDataConfig).toEqual({ 'S3OutputPath.$': '$.prepared.sagemaker.outputUri' });
    expect(p.InputDataConfig).toEqual(
      ['train', 'validation', 'test', 'config'].map((channel) => ({
        ChannelName: channel,
        DataSource: {
          S3DataSource: { 'S3Uri.$': `$.prepared.sagemaker.channels.${channel}`, S3DataType: 'S3Prefix' },
        },
      })),
    );
  });

  it('takes image, instances, volume and runtime from the model config', () => {
    const p = state.Parameters as Record<string, unknown>;
    expect(p.AlgorithmSpecification).toEqual({ TrainingImage: IMAGE, TrainingInputMode: 'File' });
    expect(p.ResourceConfig).toEqual({ InstanceCount: 2, InstanceType: 'ml.m5.2xlarge', VolumeSizeInGB: 50 });
    expect(p.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 7200 });
  });

  it("gives the job a role limited to its model's channels, output, image repository and logs", () => {
    const statements = policyStatements('TrainOnSagemakerJobRoleDefaultPolicy');
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(Object.keys(bySid).sort()).toEqual([
      'EcrLogin',
      'ListChannels',
      'PullImage',
      'ReadChannels',
      'TrainingLogs',
      'WriteOutput',
    ]);
    const joined = (s: Statement | undefined) => JSON.stringify(s?.Resource);
    expect(bySid.ReadChannels?.Action).toBe('s3:GetObject');
    expect(joined(bySid.ReadChannels)).toContain('/datasets/churn/*/channels/*');
    expect(bySid.ListChannels?.Condition).toEqual({
      StringLike: { 's3:prefix': ['datasets/churn/*/channels/*'] },
    });
    expect(bySid.WriteOutput?.Action).toBe('s3:PutObject');
    expect(joined(bySid.WriteOutput)).toContain('/runs/churn/*/sagemaker/*');
    expect(bySid.PullImage?.Resource).toBe('arn:aws:ecr:eu-west-1:123456789012:repository/churn-trainer');
    expect(bySid.EcrLogin).toMatchObject({ Action: 'ecr:GetAuthorizationToken', Resource: '*' });
    expect(joined(bySid.TrainingLogs)).toContain(':log-group:/aws/sagemaker/TrainingJobs:*');
    // Nothing else: no bucket-wide access, no CDK default SageMaker role.
    const roles = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role');
    expect(JSON.stringify(roles)).not.toContain('AmazonSageMakerFullAccess');
  });

  it('lets the state machine run .sync: the job actions, PassRole of the job role only, the SageMaker events rule', () => {
    const statements = policyStatements('PipelineRoleDefaultPolicy');
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'events:DescribeRule',
      'events:PutRule',
      'events:PutTargets',
      'iam:PassRole',
      'sagemaker:AddTags',
      'sagemaker:CreateTrainingJob',
      'sagemaker:DescribeTrainingJob',
      'sagemaker:ListTags',
      'sagemaker:StopTrainingJob',
    ]);
    const events = statements.find((s) => [s.Action].flat().includes('events:PutRule'));
    expect(JSON.stringify(events?.Resource)).toContain(
      ':rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule',
    );
    const passRole = statements.find((s) => s.Action === 'iam:PassRole');
    expect(JSON.stringify(passRole?.Resource)).toContain('TrainOnSagemakerJobRole');
    expect(passRole?.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
    });
  });

  it('refuses a model that does not train on SageMaker', () => {
    const stack = new Stack(new App());
    const bucket = new s3.Bucket(stack, 'B');
    const linear = {
      ...MODEL,
      trainer: { algorithm: 'linear', params: {} },
    } as unknown as TrainedModelConfig;
    expect(() =>
      sagemakerTrainingTask(stack, 'T', { model: linear, artifactBucket: bucket, offlineBucket: bucket }),
    ).toThrow(/trainer.algorithm: must be sagemaker/);
  });

  it('names the repository of tagged, digest and China-region images', () => {
    expect(
      ecrRepositoryArn(
        `123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/model@sha256:${'a'.repeat(64)}`,
      ),
    ).toBe('arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/model');
    expect(ecrRepositoryArn('123456789012.dkr.ecr.us-east-1.amazonaws.com/m')).toBe(
      'arn:aws:ecr:us-east-1:123456789012:repository/m',
    );
  });
});
