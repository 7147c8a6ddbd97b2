/**
 * The inference API (issue 11, item 1): per served model a function (arm64, onnxruntime layer,
 * pinned by its configuration) with a published version and the `live` alias; a REST API whose
 * routes invoke the alias, authorized by IAM (or API keys), validated, throttled and logged; a
 * capture stream per model into one bucket; alarms; outputs; cdk-nag clean.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ERROR_STATUS,
  type ErrorCode,
  FEEDBACK_BODY_SCHEMA,
  PREDICT_BODY_SCHEMA,
} from '../../lambdas/serving/contract.js';
import {
  CAPTURE_PREFIX,
  captureErrorFirehosePrefix,
  captureFirehosePrefix,
  ENV,
  experimentPk,
  modelPk,
  SERVING_ALIAS,
} from '../../lambdas/shared/layout.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { captureDeliveryRole, FIREHOSE_S3_ROLE_ID } from '../../lib/inference-api.js';
import type { MlopsStack } from '../../lib/mlops-stack.js';
import { STACK_JSON_OUTPUTS, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { trainingModels, trainingViews } from '../fixtures/training.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Json = Record<string, unknown>;

const NAMESPACE = 'TestServing';
const churn = trainingModels.find((m) => m.name === 'churn');
/** A trained model and a registry-only one (registered by an outside trainer): both are served. */
const models = [churn, { name: 'scorer', gates: {} }];

function newApp(): App {
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-inference-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
}

function synth(serving: Json = {}): {
  stack: MlopsStack;
  template: Template;
  resources: Record<string, Resource>;
  outputs: Record<string, { Value: unknown }>;
} {
  const app = newApp();
  const { stack } = buildApp(app, {
    featureViews: trainingViews,
    models,
    metricsNamespace: NAMESPACE,
    serving,
  });
  // Synthesis runs cdk-nag (AwsSolutions, Serverless) and the acknowledgement audit: any finding
  // not acknowledged, or an acknowledgement without its finding, throws here.
  const json = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
  };
  return { stack, template: Template.fromJSON(json), resources: json.Resources, outputs: json.Outputs };
}

const text = (value: unknown): string => JSON.stringify(value) ?? '';
const variablesOf = (fn: Resource | undefined): Json =>
  (fn?.Properties?.Environment as { Variables?: Json } | undefined)?.Variables ?? {};
const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);

describe('InferenceApi with IAM authorization (the default)', () => {
  let stack: MlopsStack;
  let template: Template;
  let resources: Record<string, Resource>;
  let outputs: Record<string, { Value: unknown }>;

  beforeAll(() => {
    ({ stack, template, resources, outputs } = synth());
  });

  const predictFunctions = () =>
    ofType(resources, 'AWS::Lambda::Function').filter(
      ([, fn]) => variablesOf(fn)[ENV.modelName] !== undefined,
    );

  it('serves every configured model with an arm64 Node 24 function on the onnxruntime layer', () => {
    const fns = predictFunctions();
    expect(fns.map(([, fn]) => variablesOf(fn)[ENV.modelName]).sort()).toEqual(['churn', 'scorer']);
    const [layerId] =
      ofType(resources, 'AWS::Lambda::LayerVersion').find(([id]) => id.startsWith('OnnxRuntime')) ?? [];
    expect(layerId).toBeDefined();
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs24.x',
        MemorySize: 1769,
        Timeout: 10,
        TracingConfig: { Mode: 'Active' },
      });
      expect(text(fn.Properties?.Layers)).toContain(`"${layerId}"`);
    }
  });

  it('configures each function for its model: unpinned, capture, batch limit, registry and online store', () => {
    const [, fn] = predictFunctions().find(([, f]) => variablesOf(f)[ENV.modelName] === 'churn') ?? [];
    const variables = variablesOf(fn);
    expect(variables).toMatchObject({
      [ENV.modelVersion]: '',
      [ENV.captureSampleRate]: '1',
      [ENV.maxBatchInstances]: '1000',
      [ENV.serviceName]: 'inference',
      [ENV.metricsNamespace]: NAMESPACE,
    });
    const churnStream = stack.inference?.model('churn').captureStream.node.defaultChild as CfnElement;
    expect(text(variables[ENV.captureStream])).toContain(`"${stack.getLogicalId(churnStream)}"`);
    expect(text(variables[ENV.registryTable])).toContain('ModelRegistryTable');
    expect(text(variables[ENV.artifactBucket])).toContain('ModelRegistryArtifacts');
    expect(text(variables[ENV.onlineTable])).toContain('FeatureStoreOnline');
  });

  it('points the live alias, per model, at one bootstrap version that no later deploy changes', () => {
    const aliases = ofType(resources, 'AWS::Lambda::Alias');
    expect(aliases).toHaveLength(2);
    const versions = ofType(resources, 'AWS::Lambda::Version');
    expect(versions).toHaveLength(2);
    for (const [, alias] of aliases) {
      expect(alias.Properties?.Name).toBe(SERVING_ALIAS);
      const version = text(alias.Properties?.FunctionVersion);
      const versionId = /"([A-Za-z0-9]+)","Version"/.exec(version)?.[1] ?? '';
      const bootstrap = resources[versionId];
      expect(bootstrap?.Type).toBe('AWS::Lambda::Version');
      expect(versionId).toMatch(/BootstrapVersion/);
      // Only the function: no CodeSha256 (nor anything else derived from the code or configuration),
      // so a changed bundle or environment neither replaces nor republishes it, and `live` stays.
      expect(Object.keys(bootstrap?.Properties ?? {})).toEqual(['FunctionName']);
      expect(alias.Properties).not.toHaveProperty('ProvisionedConcurrencyConfig');
    }
    // No version whose logical id derives from the code hash (fn.currentVersion: CurrentVersion<hash>).
    for (const [id, version] of versions) {
      expect(id).not.toMatch(/CurrentVersion/);
      expect(version.Properties).not.toHaveProperty('CodeSha256');
    }
  });

  it('routes predict and feedback of each model to its alias, IAM-authorized and body-validated', () => {
    const methods = ofType(resources, 'AWS::ApiGateway::Method');
    const post = methods.filter(([, m]) => m.Properties?.HttpMethod === 'POST');
    expect(post).toHaveLength(4);
    const [[validatorId, validator]] = ofType(resources, 'AWS::ApiGateway::RequestValidator') as [
      [string, Resource],
    ];
    expect(validator.Properties).toMatchObject({ ValidateRequestBody: true });
    const aliasIds = ofType(resources, 'AWS::Lambda::Alias').map(([id]) => id);
    for (const [, method] of post) {
      expect(method.Properties).toMatchObject({
        AuthorizationType: 'AWS_IAM',
        RequestValidatorId: { Ref: validatorId },
        RequestModels: { 'application/json': expect.anything() },
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
      const uri = text((method.Properties?.Integration as Json | undefined)?.Uri);
      expect(
        aliasIds.some((id) => uri.includes(`"${id}"`)),
        'integration invokes a live alias',
      ).toBe(true);
    }
    // Resource paths: /v1/models/<model>/predict and …/feedback for each model, /v1/health.
    const parts = ofType(resources, 'AWS::ApiGateway::Resource').map(([, r]) => r.Properties?.PathPart);
    expect(parts).toEqual(
      expect.arrayContaining(['v1', 'models', 'churn', 'scorer', 'predict', 'feedback', 'health']),
    );
  });

  it('answers GET /v1/health from a mock integration, open', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      AuthorizationType: 'NONE',
      Integration: Match.objectLike({
        Type: 'MOCK',
        IntegrationResponses: [
          Match.objectLike({
            StatusCode: '200',
            ResponseTemplates: { 'application/json': '{"status":"ok"}' },
          }),
        ],
      }),
    });
  });

  it('validates the body shape at the gateway and answers refusals in the function error shape', () => {
    const models = ofType(resources, 'AWS::ApiGateway::Model').map(([, m]) => m.Properties ?? {});
    const predict = models.find((m) => m.Name === 'PredictRequest')?.Schema as Json;
    expect(predict).toMatchObject({
      type: 'object',
      properties: { instances: { type: 'array', minItems: 1, items: { type: 'object' } } },
    });
    // The batch limit stays in the function (BatchTooLarge, 413), deployed and local alike.
    expect(text(predict)).not.toContain('maxItems');
    expect(models.find((m) => m.Name === 'FeedbackRequest')?.Schema).toMatchObject({ type: 'object' });
    // The gateway's models are the contract's schemas, the ones the local adapter validates with.
    expect(predict).toMatchObject(PREDICT_BODY_SCHEMA);
    expect(models.find((m) => m.Name === 'FeedbackRequest')?.Schema).toMatchObject(FEEDBACK_BODY_SCHEMA);
  });

  it('answers every gateway refusal in the ErrorBody shape, with a code of the contract', () => {
    const responses = Object.fromEntries(
      ofType(resources, 'AWS::ApiGateway::GatewayResponse').map(([id, r]) => [
        r.Properties?.ResponseType as string,
        { id, ...r.Properties },
      ]),
    ) as Record<string, { id: string; StatusCode?: string; ResponseTemplates: Record<string, string> }>;
    const template = (code: string, message: string) =>
      `{"error":{"code":"${code}","message":${message}},"requestId":"$context.requestId"}`;
    const expected: [string, string, string | undefined, string][] = [
      ['BAD_REQUEST_BODY', 'InvalidRequest', '400', '"$context.error.validationErrorString"'],
      ['REQUEST_TOO_LARGE', 'PayloadTooLarge', '413', '$context.error.messageString'],
      ['UNSUPPORTED_MEDIA_TYPE', 'UnsupportedMediaType', '415', '$context.error.messageString'],
      ['MISSING_AUTHENTICATION_TOKEN', 'Forbidden', '403', '$context.error.messageString'],
      ['ACCESS_DENIED', 'Forbidden', '403', '$context.error.messageString'],
      ['INVALID_API_KEY', 'Forbidden', '403', '$context.error.messageString'],
      ['INVALID_SIGNATURE', 'Forbidden', '403', '$context.error.messageString'],
      ['EXPIRED_TOKEN', 'Forbidden', '403', '$context.error.messageString'],
      ['THROTTLED', 'Throttled', '429', '$context.error.messageString'],
      ['QUOTA_EXCEEDED', 'Throttled', '429', '$context.error.messageString'],
      // The defaults keep the gateway's own status.
      ['DEFAULT_4XX', 'ClientError', undefined, '$context.error.messageString'],
      ['DEFAULT_5XX', 'InternalError', undefined, '$context.error.messageString'],
    ];
    expect(Object.keys(responses).sort()).toEqual(expected.map(([type]) => type).sort());
    for (const [type, code, status, message] of expected) {
      const response = responses[type];
      expect(response?.StatusCode, type).toBe(status);
      if (status !== undefined) expect(status).toBe(String(ERROR_STATUS[code as ErrorCode]));
      expect(response?.ResponseTemplates, type).toEqual({ 'application/json': template(code, message) });
      // Each template is JSON once API Gateway substitutes its (quoted) values.
      const substituted = template(code, message)
        .replace('"$context.error.validationErrorString"', '"[a]"')
        .replace('$context.error.messageString', '"m"');
      expect(() => JSON.parse(substituted), type).not.toThrow();
    }
    // The ids the first deployed stacks have stay (a renamed gateway response would be reset).
    expect(responses.BAD_REQUEST_BODY?.id).toMatch(/ErrorInvalidRequest[0-9A-F]{8}$/);
    expect(responses.REQUEST_TOO_LARGE?.id).toMatch(/ErrorPayloadTooLarge[0-9A-F]{8}$/);
    expect(responses.UNSUPPORTED_MEDIA_TYPE?.id).toMatch(/ErrorUnsupportedMediaType[0-9A-F]{8}$/);
  });

  it('throttles the stage, logs access as JSON and errors, and traces', () => {
    const [[, stage]] = ofType(resources, 'AWS::ApiGateway::Stage') as [[string, Resource]];
    expect(stage.Properties?.TracingEnabled).toBe(true);
    expect(stage.Properties?.MethodSettings).toEqual([
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
      }),
    ]);
    const access = stage.Properties?.AccessLogSetting as { DestinationArn: unknown; Format: string };
    expect(JSON.parse(access.Format.replace(/\$context\.[A-Za-z.]+/g, 'x'))).toMatchObject({
      requestId: 'x',
      status: 'x',
    });
    expect(text(access.DestinationArn)).toContain('InferenceAccessLogs');
  });

  it('sets the account logging role with an inline logs policy, no AWS managed policy', () => {
    for (const [id, role] of ofType(resources, 'AWS::IAM::Role'))
      expect(role.Properties?.ManagedPolicyArns, id).toBeUndefined();
    const [[, account]] = ofType(resources, 'AWS::ApiGateway::Account') as [[string, Resource]];
    const roleId =
      (account.Properties?.CloudWatchRoleArn as { 'Fn::GetAtt'?: [string] } | undefined)?.[
        'Fn::GetAtt'
      ]?.[0] ?? '';
    const policies = (resources[roleId]?.Properties?.Policies ?? []) as {
      PolicyDocument: { Statement: Json[] };
    }[];
    const [statement] = policies.flatMap((p) => p.PolicyDocument.Statement);
    expect(statement?.Action).toEqual(expect.arrayContaining(['logs:CreateLogStream', 'logs:PutLogEvents']));
    expect(text(statement?.Resource)).toContain(':log-group:*');
  });

  it('captures through one encrypted Firehose stream per model into the capture bucket, 60 s / 5 MiB', () => {
    const streams = ofType(resources, 'AWS::KinesisFirehose::DeliveryStream');
    expect(streams).toHaveLength(2);
    const [[bucketId]] = ofType(resources, 'AWS::S3::Bucket').filter(([id]) =>
      id.startsWith('InferenceCapture'),
    ) as [[string, Resource]];
    for (const name of ['churn', 'scorer']) {
      template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
        DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
        ExtendedS3DestinationConfiguration: Match.objectLike({
          BucketARN: { 'Fn::GetAtt': [bucketId, 'Arn'] },
          Prefix: captureFirehosePrefix(name),
          ErrorOutputPrefix: captureErrorFirehosePrefix(name),
          BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 },
        }),
      });
    }
    expect(captureFirehosePrefix('churn').startsWith(CAPTURE_PREFIX.capture)).toBe(true);
  });

  it('grants each function only what it uses: registry reads, artifacts, online reads, its own stream', () => {
    for (const [fnId, fn] of predictFunctions()) {
      const roleId = (fn.Properties?.Role as { 'Fn::GetAtt'?: [string] } | undefined)?.['Fn::GetAtt']?.[0];
      const statements = ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => text(p.Properties?.Roles).includes(`"${roleId}"`))
        .flatMap(
          ([, p]) => (p.Properties?.PolicyDocument as { Statement?: Json[] } | undefined)?.Statement ?? [],
        );
      const actions = statements.flatMap((s) => [s.Action].flat() as string[]).sort();
      expect(actions, fnId).toEqual(
        [
          'dynamodb:GetItem', // registry: version, champion alias
          'dynamodb:BatchGetItem', // online store
          'dynamodb:GetItem',
          // A/B experiments: reads under MODEL#<model> and ABTEST#*, writes under ABTEST#* only.
          'dynamodb:Query',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:ConditionCheckItem',
          'firehose:PutRecord',
          'firehose:PutRecordBatch',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          's3:GetBucket*',
          's3:GetObject*',
          's3:List*',
          // The request-signing key (its secret alone), read at cold start.
          'secretsmanager:GetSecretValue',
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
        ].sort(),
      );
      const secretRead = statements.find((s) => text(s.Action).includes('secretsmanager:'));
      const key = stack.inference?.requestSigningKey.node.defaultChild as CfnElement;
      expect(secretRead?.Resource).toEqual({ Ref: stack.getLogicalId(key) });
      expect(variablesOf(fn)[ENV.requestSigningSecret]).toEqual({ Ref: stack.getLogicalId(key) });
      const writes = statements.find((s) => text(s.Action).includes('dynamodb:PutItem'));
      expect(writes?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [experimentPk('*')] },
      });
      const query = statements.find((s) => text(s.Action).includes('dynamodb:Query'));
      expect(text(query?.Condition)).toContain(modelPk(variablesOf(fn)[ENV.modelName] as string));
      // No action wildcard beyond CDK's bucket read grant, scoped to models/*.
      for (const s of statements.filter((s) => text(s.Action).includes('s3:')))
        expect(text(s.Resource)).toContain('/models/*');
      // Firehose: the function's own stream only.
      const put = statements.find((s) => text(s.Action).includes('firehose:'));
      const model = variablesOf(fn)[ENV.modelName] as string;
      const own = stack.inference?.model(model).captureStream.node.defaultChild as CfnElement;
      expect(text(put?.Resource)).toContain(`"${stack.getLogicalId(own)}"`);
    }
  });

  it('generates one request-signing key that only the inference functions may read', () => {
    const secrets = ofType(resources, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(1);
    const [secretId, secret] = secrets[0] as [string, { Properties?: Record<string, unknown> }];
    // A JSON key `current` of 64 letters and digits (lambdas/serving/request-ids.ts reads it).
    expect(secret.Properties?.GenerateSecretString).toEqual({
      SecretStringTemplate: '{}',
      GenerateStringKey: 'current',
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    expect(secret.Properties?.SecretString).toBeUndefined();
    const readers = ofType(resources, 'AWS::IAM::Policy')
      .filter(([, p]) => text(p.Properties?.PolicyDocument).includes('secretsmanager:'))
      .flatMap(([, p]) => [p.Properties?.Roles].flat() as { Ref: string }[])
      .map((r) => r.Ref)
      .sort();
    const roles = predictFunctions()
      .map(([, fn]) => (fn.Properties?.Role as { 'Fn::GetAtt'?: [string] } | undefined)?.['Fn::GetAtt']?.[0])
      .sort();
    expect(readers).toEqual(roles);
    expect(text(resources)).not.toContain('"secretsmanager:*"');
    expect(secretId.startsWith('Inference')).toBe(true);
  });

  it('alarms on server error rate, p99 latency, integrity and capture failures, delivery, and API 5xx', () => {
    // The inference API's own alarms (the drift monitor adds stricter serving alarms: its own test).
    const alarms = ofType(resources, 'AWS::CloudWatch::Alarm')
      .filter(([id]) => id.startsWith('Inference'))
      .map(([, a]) => a.Properties ?? {});
    const named = (name: string) =>
      alarms.filter((a) => a.MetricName === name || text(a.Metrics).includes(`"MetricName":"${name}"`));
    expect(named('PredictServerErrors')).toHaveLength(2);
    expect(named('PredictLatency').map((a) => a.ExtendedStatistic)).toEqual(['p99', 'p99']);
    expect(named('ModelIntegrityFailures')).toHaveLength(2);
    expect(named('RequestSigningKeyFailures')).toHaveLength(2);
    expect(named('CaptureFailures')).toHaveLength(2);
    expect(named('DeliveryToS3.DataFreshness')).toHaveLength(2);
    expect(named('DeliveryToS3.Success')).toHaveLength(2);
    expect(named('5XXError')).toHaveLength(1);
    for (const a of named('ModelIntegrityFailures'))
      expect(a).toMatchObject({
        Namespace: NAMESPACE,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    const dimensions = (a: Json) =>
      Object.fromEntries((a.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]));
    expect(named('ModelIntegrityFailures').map(dimensions)).toEqual(
      expect.arrayContaining(['churn', 'scorer'].map((model) => ({ service: 'inference', model }))),
    );
    const [[topicId]] = ofType(resources, 'AWS::SNS::Topic') as [[string, Resource]];
    for (const a of alarms) expect(text(a.AlarmActions)).toContain(`"${topicId}"`);
  });

  it('outputs the API URL and model → { functionName, aliasArn, captureStream }', () => {
    expect(text(outputs[STACK_OUTPUTS.inferenceApiUrl]?.Value)).toContain('execute-api');
    expect(outputs[STACK_OUTPUTS.captureBucket]).toBeDefined();
    expect(outputs[STACK_OUTPUTS.inferenceApiKeyId]).toBeUndefined();
    const value = text(outputs[STACK_JSON_OUTPUTS.inferenceFunctions]?.Value);
    for (const fragment of ['"churn\\":{', '"scorer\\":{', 'functionName', 'aliasArn', 'captureStream'])
      expect(value).toContain(fragment);
    // Ref of an AWS::Lambda::Alias is its ARN (`…:function:<name>:live`).
    for (const [aliasId] of ofType(resources, 'AWS::Lambda::Alias'))
      expect(value).toContain(`"aliasArn\\":\\"",{"Ref":"${aliasId}"}`);
  });

  it('lets a grantee invoke the served methods and nothing else', () => {
    const { stack } = buildApp(newApp(), { featureViews: trainingViews, models });
    const role = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    stack.inference?.grantInvoke(role, ['churn']);
    const policy = Template.fromStack(stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }] },
    });
    const statements = Object.values(policy).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement,
    );
    expect(new Set(statements.flatMap((s) => [s.Action].flat()))).toEqual(new Set(['execute-api:Invoke']));
    const resources = text(statements.map((s) => s.Resource));
    expect(resources).toContain('/POST/v1/models/churn/predict');
    expect(resources).toContain('/POST/v1/models/churn/feedback');
    expect(resources).not.toContain('scorer');
  });
});

describe('InferenceApi configured', () => {
  it('with API keys: methods require a key of a usage plan throttled like the stage; the key id is an output', () => {
    const { resources, outputs, template } = synth({
      auth: 'apiKey',
      throttle: { rateLimit: 20, burstLimit: 40 },
      models: ['churn'],
      provisionedConcurrency: 2,
      captureSampleRate: 0.25,
      maxBatchInstances: 50,
      memoryMb: 3008,
      tracing: false,
    });
    const post = ofType(resources, 'AWS::ApiGateway::Method').filter(
      ([, m]) => m.Properties?.HttpMethod === 'POST',
    );
    expect(post).toHaveLength(2); // churn only
    for (const [, m] of post)
      expect(m.Properties).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: true });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 20, BurstLimit: 40 },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    expect(outputs[STACK_OUTPUTS.inferenceApiKeyId]).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: SERVING_ALIAS,
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 3008,
      Environment: {
        Variables: Match.objectLike({ [ENV.captureSampleRate]: '0.25', [ENV.maxBatchInstances]: '50' }),
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: false });
  });

  it('with no model: no API, no outputs', () => {
    const app = newApp();
    const { stack } = buildApp(app, { featureViews: trainingViews, models: [] });
    expect(stack.inference).toBeUndefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain(STACK_OUTPUTS.inferenceApiUrl);
  });

  it("finds CDK's Firehose destination role under each capture stream, and refuses to synthesize without it", () => {
    const app = newApp();
    const { stack } = buildApp(app, { featureViews: trainingViews, models, serving: { models: ['scorer'] } });
    const stream = stack.inference?.model('scorer').captureStream as Construct;
    expect(captureDeliveryRole(stream).node.id).toBe(FIREHOSE_S3_ROLE_ID);
    // A stream without that construct (as if aws-cdk-lib renamed it): a clear error, not a silent skip.
    const bare = new Construct(new App(), 'Capture');
    expect(() => captureDeliveryRole(bare)).toThrow(
      /Capture: no construct 'S3 Destination Role' under the delivery stream .*FIREHOSE_S3_ROLE_ID/,
    );
  });

  it('fails synthesis when a predict role gains a wildcard resource (cdk-nag IAM5)', () => {
    const app = newApp();
    const { stack } = buildApp(app, { featureViews: trainingViews, models, serving: { models: ['scorer'] } });
    stack.inference
      ?.model('scorer')
      .function.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(
      /PredictRole\/DefaultPolicy\/Resource[\s\S]*AwsSolutions-IAM5\[Resource::\*\]/,
    );
  });
});
