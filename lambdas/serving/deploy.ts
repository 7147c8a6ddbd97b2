/**
 * Deploying a model version to its inference function: each Lambda version is pinned to one
 * registry model version by its configuration (ENV.modelVersion), so putting a model behind the
 * API is "set MODEL_VERSION, publish a Lambda version, check it is ready, point the alias at it".
 * A version that is not ready (its model fails its integrity check, or names no deployable model)
 * never goes behind the alias: the previous target keeps serving, and the error says why.
 *
 * Run by the CLI (`mlops serve deploy`) against AWS or the emulator; never inside a Lambda.
 */

import { randomUUID } from 'node:crypto';
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  type GetFunctionConfigurationCommandOutput,
  InvokeCommand,
  type LambdaClient,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { lambdaClient } from '../shared/clients/lambda.js';
import { MlopsError, ValidationError } from '../shared/errors.js';
import { API_ROUTES, ENV, SERVING_ALIAS } from '../shared/layout.js';
import { anonymousIdentity, type ProxyEvent } from './api-gateway.js';

/** Invokes a published version of the function with an API Gateway proxy event; resolves with its result. */
export type InvokeVersion = (functionName: string, version: string, event: ProxyEvent) => Promise<unknown>;

/** {@link InvokeVersion} through Lambda's Invoke (a deployed function). */
export function invokeWithLambda(lambda: LambdaClient = lambdaClient()): InvokeVersion {
  return async (functionName, version, event) => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, Qualifier: version, Payload: JSON.stringify(event) }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
    if (out.FunctionError)
      throw new MlopsError(`${out.FunctionError} error: ${text.slice(0, 500)}`, 502, 'FUNCTION_ERROR');
    return JSON.parse(text) as unknown;
  };
}

export interface PinModelVersionOptions {
  /** The inference function (name or ARN, unqualified). */
  readonly functionName: string;
  /** The model it serves (its ENV.modelName must say so). */
  readonly model: string;
  /** The registry version to pin. */
  readonly version: number;
  /**
   * Runs the readiness check on the new Lambda version: Lambda's Invoke in AWS, the in-process
   * runtime locally (local/lambda-runtime.ts `invokeVersion`).
   */
  readonly invokeReadiness: InvokeVersion;
  /** @default SERVING_ALIAS */
  readonly alias?: string;
  /** @default clients' Lambda client */
  readonly lambda?: LambdaClient;
  /** How long to wait for the configuration update. @default 60_000 ms */
  readonly updateTimeoutMs?: number;
  /** Told about each step (for progress output). */
  readonly onStep?: (step: string) => void;
}

export interface PinModelVersionResult {
  readonly functionName: string;
  readonly model: string;
  readonly modelVersion: number;
  /** The Lambda version the alias now points to. */
  readonly functionVersion: string;
  /** Where the alias pointed before. */
  readonly previousFunctionVersion: string;
  /** False when the alias already pointed, unweighted, at a version pinned to this model version. */
  readonly changed: boolean;
}

/** The new Lambda version did not pass its readiness check; the alias was left as it was. */
export class DeploymentRefusedError extends MlopsError {
  constructor(
    message: string,
    readonly functionVersion: string,
    readonly reason: string,
  ) {
    super(message, 409, 'DEPLOYMENT_REFUSED');
    this.name = 'DeploymentRefusedError';
  }
}

/** The event API Gateway sends for `GET /v1/health`: the readiness check. */
export function healthCheckEvent(requestId: string = randomUUID()): ProxyEvent {
  return {
    resource: API_ROUTES.health,
    path: API_ROUTES.health,
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'deploy',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'GET',
      path: API_ROUTES.health,
      stage: 'deploy',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'deploy',
      resourcePath: API_ROUTES.health,
      identity: anonymousIdentity('127.0.0.1', 'mlops serve deploy'),
    },
  };
}

/** Why a readiness answer is not a 200, or undefined when it is. */
export function notReadyReason(result: unknown): string | undefined {
  const answer = result as { statusCode?: unknown; body?: unknown } | null;
  if (answer === null || typeof answer !== 'object' || typeof answer.statusCode !== 'number')
    return `no API Gateway proxy result (${JSON.stringify(result)?.slice(0, 200)})`;
  if (answer.statusCode === 200) return undefined;
  let detail = typeof answer.body === 'string' ? answer.body.slice(0, 500) : '';
  try {
    const body = JSON.parse(String(answer.body)) as { error?: { code?: string; message?: string } };
    if (body.error?.code) detail = `${body.error.code}: ${body.error.message ?? ''}`;
  } catch {
    // not JSON: the raw body says it
  }
  return `health check answered ${answer.statusCode}${detail ? ` ${detail}` : ''}`;
}

async function waitForUpdate(
  lambda: LambdaClient,
  functionName: string,
  timeoutMs: number,
): Promise<GetFunctionConfigurationCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    if (config.LastUpdateStatus === 'Failed')
      throw new MlopsError(
        `${functionName}: its configuration update failed (${config.LastUpdateStatusReason ?? 'no reason given'})`,
        502,
        'DEPLOYMENT_FAILED',
      );
    if (config.State !== 'Pending' && config.LastUpdateStatus !== 'InProgress') return config;
    if (Date.now() > deadline)
      throw new MlopsError(
        `${functionName}: its configuration update is still in progress after ${timeoutMs / 1000} s`,
        504,
        'DEPLOYMENT_TIMEOUT',
      );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Sets MODEL_VERSION=`version` on the function's unpublished configuration (other variables kept;
 * skipped when already set), waits for the update, publishes a version and checks it is pinned.
 * Idempotent: Lambda answers PublishVersion with the existing version when nothing changed since
 * it was published, so a retried call returns the same version. `variables`: the unpublished
 * configuration's, when the caller has read them.
 */
export async function publishPinnedVersion(options: {
  readonly lambda: LambdaClient;
  readonly functionName: string;
  readonly model: string;
  readonly version: number;
  readonly variables?: Record<string, string>;
  readonly updateTimeoutMs?: number;
  readonly onStep?: (step: string) => void;
}): Promise<string> {
  const { lambda, functionName, model } = options;
  const step = options.onStep ?? (() => {});
  const pinned = String(options.version);
  const variables =
    options.variables ??
    (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }))).Environment
      ?.Variables ??
    {};
  if (variables[ENV.modelVersion] !== pinned) {
    step(`setting ${ENV.modelVersion}=${pinned} on ${functionName}`);
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: functionName,
        Environment: { Variables: { ...variables, [ENV.modelVersion]: pinned } },
      }),
    );
    await waitForUpdate(lambda, functionName, options.updateTimeoutMs ?? 60_000);
  }
  step(`publishing a version of ${functionName}`);
  const published = await lambda.send(
    new PublishVersionCommand({ FunctionName: functionName, Description: `${model} version ${pinned}` }),
  );
  const functionVersion = published.Version;
  if (!functionVersion)
    throw new MlopsError(`${functionName}: PublishVersion gave no version`, 502, 'DEPLOYMENT_FAILED');
  if (published.Environment?.Variables?.[ENV.modelVersion] !== pinned)
    throw new MlopsError(
      `${functionName}: published version ${functionVersion} is not pinned to ${pinned} (its configuration changed meanwhile?)`,
      409,
      'DEPLOYMENT_FAILED',
    );
  return functionVersion;
}

/**
 * Pins `version` of `model` to the function and puts it behind the alias: UpdateFunctionConfiguration
 * (MODEL_VERSION, other variables kept) → wait for the update → PublishVersion → readiness check on
 * the new version (its health route must answer 200) → UpdateAlias to it, without weights.
 * Idempotent: when the alias already points, unweighted, at a version pinned to this model version,
 * nothing changes.
 */
export async function pinModelVersion(options: PinModelVersionOptions): Promise<PinModelVersionResult> {
  const { functionName, model, version } = options;
  if (!Number.isInteger(version) || version < 1)
    throw new ValidationError('version', 'must be a positive integer (a registry version)');
  const lambda = options.lambda ?? lambdaClient();
  const aliasName = options.alias ?? SERVING_ALIAS;
  const step = options.onStep ?? (() => {});
  const pinned = String(version);

  const latest = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  const variables = latest.Environment?.Variables ?? {};
  if (variables[ENV.modelName] !== model)
    throw new ValidationError(
      'model',
      `must be the model ${functionName} serves`,
      `model: ${functionName} serves ${JSON.stringify(variables[ENV.modelName] ?? null)}, not ${JSON.stringify(model)}`,
    );
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }));
  const previous = alias.FunctionVersion ?? '$LATEST';
  const weighted = Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {}).length > 0;
  if (!weighted && previous !== '$LATEST') {
    const current = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: previous }),
    );
    if (current.Environment?.Variables?.[ENV.modelVersion] === pinned)
      return {
        functionName,
        model,
        modelVersion: version,
        functionVersion: previous,
        previousFunctionVersion: previous,
        changed: false,
      };
  }

  const functionVersion = await publishPinnedVersion({
    lambda,
    functionName,
    model,
    version,
    variables,
    updateTimeoutMs: options.updateTimeoutMs ?? 60_000,
    onStep: step,
  });

  step(`checking version ${functionVersion} answers its health check`);
  let reason: string | undefined;
  try {
    reason = notReadyReason(await options.invokeReadiness(functionName, functionVersion, healthCheckEvent()));
  } catch (error) {
    const e = error as Error;
    reason = `the function failed: ${e.name}: ${e.message}`;
  }
  if (reason !== undefined)
    throw new DeploymentRefusedError(
      `${model} version ${pinned} was not deployed: Lambda version ${functionVersion} of ${functionName} is not ready (${reason}); alias ${aliasName} still points to version ${previous}`,
      functionVersion,
      reason,
    );

  step(`pointing alias ${aliasName} at version ${functionVersion}`);
  await lambda.send(
    new UpdateAliasCommand({
      FunctionName: functionName,
      Name: aliasName,
      FunctionVersion: functionVersion,
      RoutingConfig: { AdditionalVersionWeights: {} },
    }),
  );
  return {
    functionName,
    model,
    modelVersion: version,
    functionVersion,
    previousFunctionVersion: previous,
    changed: true,
  };
}
