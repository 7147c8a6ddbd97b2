/**
 * Serving (issue 11): per served model, an inference function (lambdas/predict/handler.ts, arm64,
 * onnxruntime layer) with a published version and the `live` alias ({@link SERVING_ALIAS}) that
 * API Gateway invokes, and a Kinesis Data Firehose delivery stream capturing its predictions and
 * feedback into one capture bucket; one REST API in front of them all.
 *
 * Routes (API_ROUTES): `POST /v1/models/<model>/predict` and `…/feedback` for each served model (a
 * literal resource per model: one integration cannot pick a function by a path parameter, so the
 * function sees `event.resource` with the model's name in it and `event.path` alike), and
 * `GET /v1/health` (a mock integration: answers without invoking anything).
 *
 * - Authorization: IAM (SigV4; grant `execute-api:Invoke` with {@link InferenceApi.grantInvoke}) by
 *   default, or API keys with a usage plan (configuration `serving.auth`). Health is open.
 * - The gateway validates the body's shape (PREDICT_BODY_SCHEMA / FEEDBACK_BODY_SCHEMA of the
 *   contract: a JSON object; `instances` a non-empty array of objects; `features`/`entity`
 *   objects; feedback's `requestId` and `outcome` present) and answers a refusal in the function's
 *   error shape (ErrorBody, code InvalidRequest, the validator's message). Field-level rules and
 *   the batch limit stay in the function (BatchTooLarge is 413). Every other gateway refusal
 *   (no such route/model: 403 Forbidden, throttled: 429 Throttled, …) is in that shape too; the
 *   local adapter (local/http-adapter.ts) answers the same.
 * - Stage throttling, JSON access logs, execution logs at ERROR, X-Ray when configured.
 * - Each function version is pinned to one registry version by its configuration (ENV.modelVersion).
 *   `cdk deploy` publishes one unpinned bootstrap version (answers ModelNotDeployed) and points `live`
 *   at it once; only `mlops serve deploy` (pinModelVersion) moves `live` after that.
 */
import { ArnFormat, Duration, type RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { FeatureView } from '../lambdas/feature-store/feature-view.js';
import {
  type BodySchema,
  ERROR_STATUS,
  type ErrorCode,
  FEEDBACK_BODY_SCHEMA,
  type HealthResponse,
  PREDICT_BODY_SCHEMA,
} from '../lambdas/serving/contract.js';
import {
  API_ROUTES,
  ARTIFACT_KEYS,
  captureErrorFirehosePrefix,
  captureFirehosePrefix,
  ENV,
  experimentPk,
  FEATURE_VIEWS_DEFINE,
  modelPk,
  SERVING_ALIAS,
} from '../lambdas/shared/layout.js';
import { SERVICES, SERVING_METRICS, type ServingMetric } from '../lambdas/shared/metric-names.js';
import type { MlopsConfig } from './config.js';
import type { FeatureStore } from './feature-store.js';
import type { BundleKind } from './function-bundling.js';
import { MlopsFunction } from './mlops-function.js';
import type { ModelRegistry } from './model-registry.js';
import type { Monitoring } from './monitoring.js';
import { acknowledge, prefixedBucketGrants } from './nag.js';
import { secureBucket } from './secure-bucket.js';
import { specMetric } from './spec-metric.js';

/**
 * How the predict function is bundled: onnxruntime-node from the layer, the AWS SDK bundled (its
 * cold start is a product figure; lib/function-bundling.ts says why). The serving benchmark
 * builds it the same way.
 */
export const PREDICT_BUNDLE: BundleKind = { onnxRuntime: true, bundleAwsSdk: true };

export interface InferenceApiProps {
  /** The served models' names (configuration `serving.models`, or every configured model). */
  readonly models: readonly string[];
  /** The configuration's `serving` section. */
  readonly serving: MlopsConfig['serving'];
  /** The configured feature views (baked into the bundle: TTLs and entities of online reads). */
  readonly featureViews: readonly FeatureView[];
  /** Versions and artifacts are read from it at cold start. */
  readonly registry: ModelRegistry;
  /** Entity-key instances read their features from its online table. */
  readonly featureStore: FeatureStore;
  readonly monitoring: Monitoring;
  /** Receives the capture bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /** CloudWatch namespace of the functions' metrics (configuration `metricsNamespace`). */
  readonly metricsNamespace: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Alarm threshold on each model's p99 request latency inside the function (PredictLatency).
   * @default 1000 ms
   */
  readonly latencyP99AlarmMs?: number;
}

/** One served model's parts. */
export interface ServedModel {
  readonly name: string;
  readonly function: MlopsFunction;
  /** The `live` alias API Gateway invokes (its weights are the canary's, issue 12). */
  readonly alias: lambda.Alias;
  /** Delivers captured records under `capture/<model>/date=…/hour=…/` of the capture bucket. */
  readonly captureStream: firehose.DeliveryStream;
  /** `POST /v1/models/<model>/predict`. */
  readonly predict: apigw.Method;
  /** `POST /v1/models/<model>/feedback`. */
  readonly feedback: apigw.Method;
}

/** Which dimension values select a serving metric (the model always; version, variant, errorType narrow it). */
export interface ServingMetricSelector {
  readonly model: string;
  readonly version?: number | string;
  readonly variant?: string;
  readonly errorType?: ErrorCode;
}

/** Buffering of the capture streams: whichever comes first. */
export const CAPTURE_BUFFERING = { interval: Duration.seconds(60), size: Size.mebibytes(5) } as const;

/** A body schema of the contract (lambdas/serving/contract.ts) as an API Gateway model schema (draft 4). */
export function gatewaySchema(schema: BodySchema, root = true): apigw.JsonSchema {
  const types = { object: apigw.JsonSchemaType.OBJECT, array: apigw.JsonSchemaType.ARRAY } as const;
  return {
    ...(root ? { schema: apigw.JsonSchemaVersion.DRAFT4 } : {}),
    ...(schema.title === undefined ? {} : { title: schema.title }),
    ...(schema.type === undefined ? {} : { type: types[schema.type] }),
    ...(schema.required === undefined ? {} : { required: [...schema.required] }),
    ...(schema.minItems === undefined ? {} : { minItems: schema.minItems }),
    ...(schema.items === undefined ? {} : { items: gatewaySchema(schema.items, false) }),
    ...(schema.properties === undefined
      ? {}
      : {
          properties: Object.fromEntries(
            Object.entries(schema.properties).map(([key, child]) => [key, gatewaySchema(child, false)]),
          ),
        }),
  };
}

/**
 * Gateway refusals answered in the function's error shape (ErrorBody), by gateway response type:
 * the code, and the status when it overrides the gateway's own (DEFAULT_4XX/5XX keep theirs).
 *
 * - BAD_REQUEST_BODY: the body failed the model's schema or is not JSON at all (a body sent as
 *   `application/json`, or with no content type, is parsed and validated; other content types are
 *   not validated and reach the function, which answers UnsupportedMediaType). The message is the
 *   validator's `validationErrorString`, naming what failed.
 * - MISSING_AUTHENTICATION_TOKEN: API Gateway's answer to a route, model or method the API does
 *   not have, and to an unsigned request; it stays a 403 (Forbidden), as a 404 would mislead an
 *   unsigned caller of a real route.
 * - REQUEST_TOO_LARGE: a body over 10 MB, or a proxy event over Lambda's 6 MB invoke limit.
 */
const GATEWAY_ERRORS: readonly (readonly [apigw.ResponseType, ErrorCode, string, boolean])[] = [
  [apigw.ResponseType.BAD_REQUEST_BODY, 'InvalidRequest', '"$context.error.validationErrorString"', true],
  [apigw.ResponseType.REQUEST_TOO_LARGE, 'PayloadTooLarge', '$context.error.messageString', true],
  [apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, 'UnsupportedMediaType', '$context.error.messageString', true],
  [apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'Forbidden', '$context.error.messageString', true],
  [apigw.ResponseType.ACCESS_DENIED, 'Forbidden', '$context.error.messageString', true],
  [apigw.ResponseType.INVALID_API_KEY, 'Forbidden', '$context.error.messageString', true],
  [apigw.ResponseType.INVALID_SIGNATURE, 'Forbidden', '$context.error.messageString', true],
  [apigw.ResponseType.EXPIRED_TOKEN, 'Forbidden', '$context.error.messageString', true],
  [apigw.ResponseType.THROTTLED, 'Throttled', '$context.error.messageString', true],
  [apigw.ResponseType.QUOTA_EXCEEDED, 'Throttled', '$context.error.messageString', true],
  [apigw.ResponseType.DEFAULT_4XX, 'ClientError', '$context.error.messageString', false],
  [apigw.ResponseType.DEFAULT_5XX, 'InternalError', '$context.error.messageString', false],
];

export class InferenceApi extends Construct {
  public readonly api: apigw.RestApi;
  /** Receives every model's capture stream (`capture/`) and its delivery errors (`capture-errors/`). */
  public readonly captureBucket: s3.Bucket;
  /** The served models, by name. */
  public readonly models: ReadonlyMap<string, ServedModel>;
  /**
   * Each model's alarms on its function's own health (5xx rate, p99 latency, integrity failures):
   * the deployment workflow rolls a canary back when one of them enters ALARM.
   */
  public readonly servingAlarms: ReadonlyMap<string, readonly cloudwatch.Alarm[]>;
  /** The API key callers send (`x-api-key`), when `serving.auth` is `apiKey`. */
  public readonly apiKey?: apigw.IApiKey;
  public readonly accessLogs: logs.LogGroup;
  /**
   * The key that signs every model's request ids (lambdas/serving/request-ids.ts): JSON
   * `{ "current": … }`, generated at the first deploy; read only by the inference functions
   * (GetSecretValue). Rotate in two puts 10 minutes apart, `{ current: <old>, next: <new> }` then
   * `{ current: <new>, previous: <old> }`: no feedback is refused. Never change its
   * GenerateSecretString: CloudFormation would generate a new value at once, and every id signed
   * before would be refused.
   */
  public readonly requestSigningKey: secretsmanager.Secret;
  private readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    if (props.models.length === 0) throw new Error('InferenceApi needs at least one served model');
    this.metricsNamespace = props.metricsNamespace;
    const { serving, registry, featureStore } = props;
    const stack = Stack.of(this);

    this.captureBucket = secureBucket(this, 'Capture', {
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: `${stack.stackName}/inference-capture/`,
      removalPolicy: props.removalPolicy,
    });

    this.requestSigningKey = new secretsmanager.Secret(this, 'RequestSigningKey', {
      description: `${stack.stackName}: signs the inference API's request ids (feedback verifies them)`,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'current',
        passwordLength: 64,
        excludePunctuation: true,
      },
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.requestSigningKey, {
      id: 'SMG4',
      reason:
        'An HMAC key, not a credential: it is rotated in two puts (current+next, then current+previous; every key verifies), which needs no rotation function.',
    });

    // ---- the REST API ----
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const iamAuth = serving.auth === 'iam';
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${stack.stackName}-inference`,
      description: 'serverless-mlops inference API: predict and feedback per served model',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The account's CloudWatch role is set below, with an inline policy (no AWS managed policy).
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'prod',
        throttlingRateLimit: serving.throttle.rateLimit,
        throttlingBurstLimit: serving.throttle.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: serving.tracing,
      },
    });
    // Access and execution logs need the account's API Gateway CloudWatch role (an account-wide
    // setting: it serves every REST API of the account and region, so its logs scope is theirs).
    const logsRole = new iam.Role(this, 'CloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: "API Gateway's account-level role for access and execution logs",
      inlinePolicies: {
        logs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: [
                'logs:CreateLogGroup',
                'logs:CreateLogStream',
                'logs:DescribeLogGroups',
                'logs:DescribeLogStreams',
                'logs:PutLogEvents',
              ],
              resources: [
                stack.formatArn({
                  service: 'logs',
                  resource: 'log-group',
                  resourceName: '*',
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ],
            }),
          ],
        }),
      },
    });
    logsRole.applyRemovalPolicy(props.removalPolicy);
    const account = new apigw.CfnAccount(this, 'Account', { cloudWatchRoleArn: logsRole.roleArn });
    account.applyRemovalPolicy(props.removalPolicy);
    this.api.deploymentStage.node.addDependency(account);
    acknowledge(logsRole, {
      id: 'IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
      reason:
        "API Gateway's account-level logging role writes execution logs (API-Gateway-Execution-Logs_<api>/<stage>) and access logs of every REST API of this account and region; the setting is account-wide, so its scope is too.",
    });

    // Construct ids `Error-<code>` for a code's first response type (the ids deployed stacks
    // have: a renamed GatewayResponse would be created, then the old one's delete would reset it).
    const ids = new Set<string>();
    for (const [type, code, message, overrideStatus] of GATEWAY_ERRORS) {
      const id = ids.has(`Error-${code}`) ? `Error-${code}-${type.responseType}` : `Error-${code}`;
      ids.add(id);
      this.api.addGatewayResponse(id, {
        type,
        ...(overrideStatus ? { statusCode: String(ERROR_STATUS[code]) } : {}),
        templates: {
          'application/json': `{"error":{"code":"${code}","message":${message}},"requestId":"$context.requestId"}`,
        },
      });
    }
    const validator = this.api.addRequestValidator('BodyValidator', {
      requestValidatorName: 'body-shape',
      validateRequestBody: true,
      // The routes declare no required parameters; validating them costs nothing.
      validateRequestParameters: true,
    });
    const predictModel = this.api.addModel('PredictRequest', {
      contentType: 'application/json',
      modelName: 'PredictRequest',
      schema: gatewaySchema(PREDICT_BODY_SCHEMA),
    });
    const feedbackModel = this.api.addModel('FeedbackRequest', {
      contentType: 'application/json',
      modelName: 'FeedbackRequest',
      schema: gatewaySchema(FEEDBACK_BODY_SCHEMA),
    });
    const authorization: Pick<apigw.MethodOptions, 'authorizationType' | 'apiKeyRequired'> = iamAuth
      ? { authorizationType: apigw.AuthorizationType.IAM }
      : { authorizationType: apigw.AuthorizationType.NONE, apiKeyRequired: true };

    const health: HealthResponse = { status: 'ok' };
    this.api.root.resourceForPath(API_ROUTES.health).addMethod(
      'GET',
      new apigw.MockIntegration({
        requestTemplates: { 'application/json': '{"statusCode": 200}' },
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        integrationResponses: [
          { statusCode: '200', responseTemplates: { 'application/json': JSON.stringify(health) } },
        ],
      }),
      { authorizationType: apigw.AuthorizationType.NONE, methodResponses: [{ statusCode: '200' }] },
    );

    // ---- per served model: function, version and alias, capture stream, routes ----
    const models = new Map<string, ServedModel>();
    for (const name of props.models) {
      const modelScope = new Construct(this, `Model-${name}`);
      const captureLogs = new logs.LogGroup(modelScope, 'CaptureDeliveryLogs', {
        retention: props.logRetention,
        removalPolicy: props.removalPolicy,
      });
      const captureStream = new firehose.DeliveryStream(modelScope, 'Capture', {
        destination: new firehose.S3Bucket(this.captureBucket, {
          dataOutputPrefix: captureFirehosePrefix(name),
          errorOutputPrefix: captureErrorFirehosePrefix(name),
          bufferingInterval: CAPTURE_BUFFERING.interval,
          bufferingSize: CAPTURE_BUFFERING.size,
          loggingConfig: new firehose.EnableLogging(captureLogs),
        }),
        encryption: firehose.StreamEncryption.awsOwnedKey(),
      });

      const fn = new MlopsFunction(modelScope, 'Predict', {
        name: 'predict',
        description: `Serves model ${name}: online features, validation, ONNX scoring, capture`,
        ...PREDICT_BUNDLE,
        memorySize: serving.memoryMb,
        timeout: Duration.seconds(10),
        logRetention: props.logRetention,
        logRemovalPolicy: props.removalPolicy,
        metricsNamespace: props.metricsNamespace,
        define: { [FEATURE_VIEWS_DEFINE]: JSON.stringify(props.featureViews) },
        environment: {
          [ENV.serviceName]: SERVICES.inference,
          [ENV.modelName]: name,
          [ENV.modelVersion]: '',
          [ENV.captureStream]: captureStream.deliveryStreamName,
          [ENV.captureSampleRate]: String(serving.captureSampleRate),
          [ENV.maxBatchInstances]: String(serving.maxBatchInstances),
          [ENV.registryTable]: registry.table.tableName,
          [ENV.artifactBucket]: registry.artifactBucket.bucketName,
          [ENV.onlineTable]: featureStore.onlineTable.tableName,
          [ENV.requestSigningSecret]: this.requestSigningKey.secretArn,
        },
      });
      // The request-signing key: read at cold start and every 5 minutes (GetSecretValue only;
      // the secret is encrypted with the account's aws/secretsmanager key, which needs no grant).
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.requestSigningKey.secretArn],
        }),
      );
      // The model at cold start: the version its Lambda version is pinned to, and its artifact.
      registry.grantGetVersion(fn);
      registry.grantReadArtifacts(fn);
      // Entity-key instances: one BatchGetItem per request (lambdas/feature-store/online-store.ts).
      featureStore.onlineTable.grant(fn, 'dynamodb:BatchGetItem', 'dynamodb:GetItem');
      captureStream.grantPutRecords(fn);
      // A/B experiments (lambdas/serving/experiments.ts): the model's experiment index and each
      // experiment's items read; counters and idempotency items written only under ABTEST#*.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query', 'dynamodb:GetItem'],
          resources: [registry.table.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [modelPk(name), experimentPk('*')] },
          },
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
          resources: [registry.table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [experimentPk('*')] } },
        }),
      );
      acknowledge(
        fn.executionRole,
        ...prefixedBucketGrants(
          registry.artifactBucket,
          { read: [ARTIFACT_KEYS.models] },
          'Inference reads the model artifact it serves; keys are content-addressed, so not known in advance',
        ),
      );

      // CloudFormation never moves `live`: it points once at a bootstrap version whose properties
      // never change (no CodeSha256, no description that varies), so no later deploy replaces or
      // republishes it, and the alias (with any canary weights) stays where pinModelVersion
      // (`mlops serve deploy`) put it. The bootstrap version is unpinned: it answers ModelNotDeployed.
      const bootstrap = new lambda.CfnVersion(modelScope, 'BootstrapVersion', {
        functionName: fn.functionName,
      });
      const alias = new lambda.Alias(modelScope, 'Live', {
        aliasName: SERVING_ALIAS,
        version: lambda.Version.fromVersionAttributes(modelScope, 'Bootstrap', {
          lambda: fn,
          version: bootstrap.attrVersion,
        }),
        description: `What the inference API invokes for ${name} (a canary moves its weights)`,
        ...(serving.provisionedConcurrency > 0
          ? { provisionedConcurrentExecutions: serving.provisionedConcurrency }
          : {}),
      });

      const integration = new apigw.LambdaIntegration(alias, { proxy: true, allowTestInvoke: false });
      const route = (path: string) => path.replace('{model}', name);
      const predict = this.api.root
        .resourceForPath(route(API_ROUTES.predict))
        .addMethod('POST', integration, {
          ...authorization,
          requestValidator: validator,
          requestModels: { 'application/json': predictModel },
        });
      const feedback = this.api.root
        .resourceForPath(route(API_ROUTES.feedback))
        .addMethod('POST', integration, {
          ...authorization,
          requestValidator: validator,
          requestModels: { 'application/json': feedbackModel },
        });

      // The L2 destination grants its role read and write on the bucket (CDK's grantReadWrite).
      acknowledge(
        captureDeliveryRole(captureStream),
        ...['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*'].map((action) => ({
          id: `IAM5[Action::${action}]`,
          reason: `CDK's Firehose S3 destination grant (grantReadWrite) on the capture bucket ${this.captureBucket.node.path}, nothing else.`,
        })),
        {
          id: `IAM5[Resource::<${stack.getLogicalId(this.captureBucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
          reason: `Firehose writes objects under keys it names (capture/${name}/date=…/hour=…/ and capture-errors/${name}/…) in the capture bucket only.`,
        },
      );
      models.set(name, { name, function: fn, alias, captureStream, predict, feedback });
    }
    this.models = models;

    if (!iamAuth) {
      const plan = this.api.addUsagePlan('UsagePlan', {
        description: 'Callers of the inference API (API key authorization)',
        throttle: { rateLimit: serving.throttle.rateLimit, burstLimit: serving.throttle.burstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      const key = new apigw.ApiKey(this, 'ApiKey', {
        description: 'Key of the inference API (send it as x-api-key)',
      });
      plan.addApiKey(key);
      this.apiKey = key;
    }

    this.servingAlarms = this.addAlarms(props);
    this.acknowledgeFindings(iamAuth, serving.tracing);
  }

  /** The API's base URL (the stage's), ending in `/`. */
  get url(): string {
    return this.api.url;
  }

  /**
   * Lets `grantee` call predict and feedback of the served models (IAM authorization):
   * `execute-api:Invoke` on those methods of the deployed stage, nothing else.
   */
  grantInvoke(grantee: iam.IGrantable, models: readonly string[] = [...this.models.keys()]): iam.Grant[] {
    return models
      .flatMap((name) => [this.model(name).predict, this.model(name).feedback])
      .map((m) => m.grantExecute(grantee));
  }

  /**
   * A serving metric as the inference functions emit it (lambdas/shared/metric-names.ts): the
   * configured namespace, `service` = inference, and the dimension set (the metric's own or one of
   * its rollups) that `where` names exactly; `props` overrides period, statistic and so on.
   */
  metric(
    key: ServingMetric,
    where: ServingMetricSelector,
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return specMetric(this.metricsNamespace, SERVICES.inference, SERVING_METRICS[key], where, props);
  }

  /** Time from request to response inside the function. Unit: Milliseconds; default statistic: Average. */
  metricLatency(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('latency', { model }, props);
  }

  /** Time the ONNX session took per request. Unit: Milliseconds; default statistic: Average. */
  metricModelLatency(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('modelLatency', { model }, props);
  }

  /** Instances scored. Unit: Count; default statistic: Sum. */
  metricPredictions(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('predictions', { model }, props);
  }

  /** Predict requests answered, successful or not. Unit: Count; default statistic: Sum. */
  metricRequests(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('requests', { model }, props);
  }

  /** Requests answered with an error (4xx and 5xx). Unit: Count; default statistic: Sum. */
  metricErrors(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('errors', { model }, props);
  }

  /** Requests answered with a 5xx. Unit: Count; default statistic: Sum. */
  metricServerErrors(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('serverErrors', { model }, props);
  }

  /** Function instances started. Unit: Count; default statistic: Sum. */
  metricColdStarts(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('coldStarts', { model }, props);
  }

  /** Download, verify, load and warm-up at cold start. Unit: Milliseconds; default statistic: Maximum. */
  metricInitDuration(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('initDuration', { model }, props);
  }

  /** Cold starts that refused an artifact failing its SHA-256. Unit: Count; default statistic: Sum. */
  metricIntegrityFailures(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('integrityFailures', { model }, props);
  }

  /** Failed reads of the request-signing key. Unit: Count; default statistic: Sum. */
  metricSigningKeyFailures(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('signingKeyFailures', { model }, props);
  }

  /** Records delivered to the capture stream. Unit: Count; default statistic: Sum. */
  metricCaptured(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('captured', { model }, props);
  }

  /** Records the capture stream did not take. Unit: Count; default statistic: Sum. */
  metricCaptureFailures(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('captureFailures', { model }, props);
  }

  /** Feedback records accepted. Unit: Count; default statistic: Sum. */
  metricFeedback(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('feedback', { model }, props);
  }

  /** One model's parts, or an error naming the served models. */
  model(name: string): ServedModel {
    const served = this.models.get(name);
    if (served === undefined)
      throw new Error(`${name} is not served (served: ${[...this.models.keys()].join(', ')})`);
    return served;
  }

  private addAlarms(props: InferenceApiProps): Map<string, cloudwatch.Alarm[]> {
    const period = Duration.minutes(5);
    const alarm = (
      scope: Construct,
      id: string,
      options: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'> & { evaluationPeriods?: number },
    ) =>
      props.monitoring.notify(
        new cloudwatch.Alarm(scope, id, {
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          ...options,
          evaluationPeriods: options.evaluationPeriods ?? 1,
        }),
      );
    const atLeastOne = {
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    };
    const servingAlarms = new Map<string, cloudwatch.Alarm[]>();
    for (const [name, served] of this.models) {
      const scope = served.function;
      const errorRate = alarm(scope, 'ServerErrorRateAlarm', {
        alarmDescription: `Over 1% of ${name}'s predict requests answered 5xx in 5 minutes (see ${served.function.node.path}'s log)`,
        metric: new cloudwatch.MathExpression({
          expression: 'IF(requests > 0, 100 * FILL(serverErrors, 0) / requests, 0)',
          usingMetrics: {
            requests: this.metricRequests(name, { period }),
            serverErrors: this.metricServerErrors(name, { period }),
          },
          period,
          label: `${name} 5xx %`,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      const latencyMs = props.latencyP99AlarmMs ?? 1000;
      const latency = alarm(scope, 'LatencyP99Alarm', {
        alarmDescription: `${name}'s p99 predict latency inside the function exceeded ${latencyMs} ms for 15 minutes`,
        metric: this.metricLatency(name, { period, statistic: 'p99' }),
        threshold: latencyMs,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
      });
      const integrity = alarm(scope, 'IntegrityAlarm', {
        alarmDescription: `${name}: a function instance refused its model artifact (SHA-256 mismatch); the previous alias target keeps serving`,
        metric: this.metricIntegrityFailures(name, { period }),
        ...atLeastOne,
      });
      servingAlarms.set(name, [errorRate, latency, integrity]);
      alarm(scope, 'SigningKeyAlarm', {
        alarmDescription: `${name}: a function instance could not read the request-signing key ${this.requestSigningKey.node.path} (at cold start it answers 502; on a refresh it keeps the keys it holds)`,
        metric: this.metricSigningKeyFailures(name, { period }),
        ...atLeastOne,
      });
      alarm(scope, 'CaptureFailuresAlarm', {
        alarmDescription: `${name}: capture records were not taken by ${served.captureStream.node.path} (predictions were answered)`,
        metric: this.metricCaptureFailures(name, { period }),
        ...atLeastOne,
      });
      alarm(served.captureStream, 'DeliveryFreshnessAlarm', {
        alarmDescription: `${name}'s captured records wait over 15 minutes to reach S3 (see the stream's delivery log and capture-errors/)`,
        metric: served.captureStream.metric('DeliveryToS3.DataFreshness', {
          period,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 900,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      alarm(served.captureStream, 'DeliverySuccessAlarm', {
        alarmDescription: `${name}'s capture stream failed to deliver to S3 (records go to capture-errors/)`,
        metric: served.captureStream.metric('DeliveryToS3.Success', {
          period,
          statistic: cloudwatch.Stats.MINIMUM,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      });
    }
    alarm(this.api, 'ServerErrorAlarm', {
      alarmDescription:
        'Over 1% of the inference API requests answered 5xx in 5 minutes (gateway or function)',
      metric: this.api.metricServerError({ period, statistic: cloudwatch.Stats.AVERAGE }),
      threshold: 0.01,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    return servingAlarms;
  }

  private acknowledgeFindings(iamAuth: boolean, tracing: boolean): void {
    acknowledge(
      this.api,
      {
        id: 'APIG3',
        reason:
          'Requests are authorized (IAM or API key), validated and throttled at the stage; associate a WAF web ACL with the stage where the account requires one.',
      },
      {
        id: 'COG4',
        reason: iamAuth
          ? 'Callers are AWS principals authorized with SigV4 (IAM authorization), not Cognito users.'
          : 'Callers present an API key of the usage plan (configuration serving.auth = apiKey), not Cognito tokens.',
      },
    );
    const health = this.api.root.resourceForPath(API_ROUTES.health).node.tryFindChild('GET');
    if (health)
      acknowledge(health, {
        id: 'APIG4',
        reason:
          'The health check is open: a mock integration that invokes nothing and returns {"status":"ok"}.',
      });
    if (!tracing)
      acknowledge(this.api.deploymentStage, {
        pack: 'Serverless',
        id: 'APIGWXrayEnabled',
        reason: 'Stage tracing is off by configuration (serving.tracing = false); the functions still trace.',
      });
    if (!iamAuth)
      for (const served of this.models.values())
        for (const method of [served.predict, served.feedback])
          acknowledge(method, {
            id: 'APIG4',
            reason: `Callers present an API key of the usage plan (configuration serving.auth = apiKey) for ${served.name}.`,
          });
  }
}

/** CDK's id of the role a Firehose L2 S3 destination creates (aws-kinesisfirehose). */
export const FIREHOSE_S3_ROLE_ID = 'S3 Destination Role';

/**
 * The role CDK's Firehose S3 destination created under `stream` (found by its construct id). Throws
 * at synthesis when it is not there (CDK renamed it): its nag acknowledgements must not silently
 * stop applying.
 */
export function captureDeliveryRole(stream: Construct): Construct {
  const role = stream.node.findAll().find((c) => c.node.id === FIREHOSE_S3_ROLE_ID);
  if (role === undefined)
    throw new Error(
      `${stream.node.path}: no construct '${FIREHOSE_S3_ROLE_ID}' under the delivery stream (did aws-cdk-lib rename the Firehose S3 destination role?); update FIREHOSE_S3_ROLE_ID in lib/inference-api.ts`,
    );
  return role;
}
