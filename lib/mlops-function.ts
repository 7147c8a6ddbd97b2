/**
 * The project's one Lambda function factory: every function is an {@link MlopsFunction}, so the
 * defaults below hold everywhere and a test can check them in one place.
 *
 * - Node.js 24 (`nodejs24.x`) on arm64 (Graviton: cheaper per GB-second, and the architecture the
 *   onnxruntime layer is cut for).
 * - esbuild bundling on the host (never Docker), ESM output, source maps, minified.
 * - Structured JSON logs into its own log group with the configured retention; X-Ray tracing.
 * - Its own role that may write only to that log group (no AWS managed policy); callers add
 *   permissions with the constructs' grant methods. The X-Ray statement (resource `*`, X-Ray takes
 *   no other) is a policy of its own, so its cdk-nag acknowledgement covers nothing else.
 * - Asynchronously invoked functions (schedules, events) name an on-failure queue; the others are
 *   invoked synchronously only, and their callers get the error.
 * - The entry is `lambdas/<name>/handler.ts`, exported as `handler`.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/shared/layout.js';
import { ESBUILD_OPTIONS, externalModules, REQUIRE_BANNER } from './function-bundling.js';
import { acknowledge, XRAY_WILDCARD } from './nag.js';
import { OnnxRuntimeLayer } from './onnxruntime-layer.js';

/** Repository root, resolved from this file so synthesis works from any working directory. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The runtime every function uses; tests run on the same Node.js major version. */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Architecture every function uses unless a caller has a reason to differ. */
export const FUNCTION_ARCHITECTURE = lambda.Architecture.ARM_64;

export interface MlopsFunctionProps {
  /** Folder under `lambdas/` that holds `handler.ts`. */
  readonly name: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Environment variables (configuration names, never secrets). */
  readonly environment?: Record<string, string>;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Time limit of one invocation.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Attach the onnxruntime-node layer (linux binaries of the function's architecture only) and
   * leave `onnxruntime-node` out of the bundle.
   * @default false
   */
  readonly onnxRuntime?: boolean;
  /**
   * Bundle the AWS SDK instead of importing the runtime's (see lib/function-bundling.ts).
   * @default false
   */
  readonly bundleAwsSdk?: boolean;
  /**
   * Days the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Compile-time constants for esbuild (`define`): identifier to JSON text. Used to bake
   * configuration the CDK app already validated (e.g. feature view definitions) into the bundle.
   * @default none
   */
  readonly define?: Record<string, string>;
  /**
   * For functions invoked asynchronously (EventBridge schedules and rules, S3 events): where an
   * invocation that still fails after its retries goes. Every asynchronously invoked function must
   * have one (test/infra checks it), so a failure always lands where an alarm watches.
   * @default none: the function is invoked synchronously only, and its caller receives the error
   */
  readonly asyncFailure?: AsyncFailureHandling;
  /**
   * CloudWatch namespace of the metrics the function emits (POWERTOOLS_METRICS_NAMESPACE).
   * @default none (the stack gives every function the configured namespace)
   */
  readonly metricsNamespace?: string;
  /**
   * Folder holding the function folders. Tests point it at fixtures.
   * @default `<repo>/lambdas`
   */
  readonly lambdasDir?: string;
}

/** How an asynchronously invoked function handles failures. */
export interface AsyncFailureHandling {
  /** Encrypted SQS queue that receives the failed invocation (request and response). */
  readonly queue: sqs.IQueue;
  /**
   * Retries Lambda makes of a failed asynchronous invocation.
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long an event may wait for an invocation before it goes to the queue unprocessed.
   * @default Duration.hours(6) (Lambda's own default)
   */
  readonly maxEventAge?: Duration;
}

/** A Lambda function with the project's defaults. */
export class MlopsFunction extends NodejsFunction {
  /** Absolute path of the handler module this function bundles. */
  public readonly entryPath: string;
  /** The function's own execution role (grant methods add to it). */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: MlopsFunctionProps) {
    const entry = path.join(props.lambdasDir ?? path.join(PROJECT_ROOT, 'lambdas'), props.name, 'handler.ts');
    const architecture = FUNCTION_ARCHITECTURE;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);
    const failure = props.asyncFailure;
    super(scope, id, {
      entry,
      role,
      handler: 'handler',
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...(props.metricsNamespace ? { [ENV.metricsNamespace]: props.metricsNamespace } : {}),
        ...props.environment,
      },
      // Tracing is switched on below, with its permissions in a policy of their own.
      ...(failure
        ? {
            onFailure: new destinations.SqsDestination(failure.queue),
            retryAttempts: failure.retryAttempts ?? 2,
            ...(failure.maxEventAge ? { maxEventAge: failure.maxEventAge } : {}),
          }
        : {}),
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      layers: props.onnxRuntime
        ? [OnnxRuntimeLayer.forArchitecture(scope, architecture, FUNCTION_RUNTIME)]
        : [],
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        // lib/function-bundling.ts holds these options; the benchmarks build with the same.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: ESBUILD_OPTIONS.target,
        platform: ESBUILD_OPTIONS.platform,
        minify: ESBUILD_OPTIONS.minify,
        logLevel: LogLevel.WARNING, // warnings and errors, not each bundle's size report
        keepNames: ESBUILD_OPTIONS.keepNames,
        sourceMap: ESBUILD_OPTIONS.sourcemap,
        sourcesContent: ESBUILD_OPTIONS.sourcesContent,
        mainFields: [...ESBUILD_OPTIONS.mainFields],
        ...(props.define ? { define: props.define } : {}),
        externalModules: externalModules(props),
        banner: REQUIRE_BANNER,
      },
    });
    this.entryPath = entry;
    this.executionRole = role;
    (this.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: lambda.Tracing.ACTIVE };
    const tracing = new iam.Policy(scope, `${id}Tracing`, {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
    });
    this.node.addDependency(tracing);
    acknowledge(tracing, XRAY_WILDCARD);
    acknowledge(this, {
      pack: 'Serverless',
      id: 'LambdaDLQ',
      reason: failure
        ? `Failed asynchronous invocations go to the on-failure destination ${failure.queue.node.path} (request and response); a dead-letter queue as well would deliver each failure twice.`
        : 'Invoked synchronously only (by a workflow task or a caller that awaits it): the caller receives the error, so there is no asynchronous event to dead-letter.',
    });
  }
}
