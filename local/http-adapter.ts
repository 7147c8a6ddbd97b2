/**
 * The inference API on this machine: a node:http server that does what API Gateway does in front
 * of the serving functions. For each request on one of {@link API_ROUTES} it builds the REST API
 * (v1) Lambda proxy event API Gateway builds (resource, path, pathParameters, httpMethod, headers,
 * query string, body, requestContext with a request id), picks the Lambda version the model's
 * `live` alias routes to — by the alias's weights as the emulator's Lambda API holds them
 * (GetAlias: FunctionVersion plus RoutingConfig.AdditionalVersionWeights, read at most once a
 * second) — invokes that version in-process (local/lambda-runtime.ts: its own module instance and
 * its own pinned configuration) and writes the proxy result back.
 *
 * What API Gateway answers itself is answered here the same way (lib/inference-api.ts's gateway
 * responses), in the API's ErrorBody shape (lambdas/serving/contract.ts):
 * - `GET /v1/health` is a mock integration: 200 `{"status":"ok"}`, no function invoked.
 * - A route, model or method the API does not have: 403 Forbidden (API Gateway's
 *   MISSING_AUTHENTICATION_TOKEN, "Missing Authentication Token").
 * - A body sent as `application/json` (or with no content type) is parsed and checked against the
 *   route's body schema (PREDICT_BODY_SCHEMA / FEEDBACK_BODY_SCHEMA, local/body-schema.ts); a body
 *   that is not JSON or fails the schema is a 400 InvalidRequest (BAD_REQUEST_BODY) naming what
 *   failed. Other content types are not validated: the function answers UnsupportedMediaType.
 * - A body over 10 MB, or a proxy event over Lambda's 6 MB synchronous invoke limit
 *   (LAMBDA_SYNC_PAYLOAD_BYTES), is a 413 PayloadTooLarge (REQUEST_TOO_LARGE).
 * - A function that fails or answers no valid proxy result is a 502 (InternalError).
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetAliasCommand, type GetAliasCommandOutput } from '@aws-sdk/client-lambda';
import { anonymousIdentity, type ProxyEvent, type ProxyResult } from '../lambdas/serving/api-gateway.js';
import {
  type BodySchema,
  type ErrorBody,
  type ErrorCode,
  FEEDBACK_BODY_SCHEMA,
  type HealthResponse,
  LAMBDA_SYNC_PAYLOAD_BYTES,
  PREDICT_BODY_SCHEMA,
} from '../lambdas/serving/contract.js';
import { clients } from '../lambdas/shared/clients.js';
import { API_ROUTES, ENV, SERVING_ALIAS } from '../lambdas/shared/layout.js';
import type { StackArtifact } from './assembly.js';
import { bodyRefusal } from './body-schema.js';
import { LambdaFunctionError, type LocalLambdas } from './lambda-runtime.js';
import type { ProvisionedStack } from './provision.js';

/** API Gateway's own limit on a request body (REST APIs: 10 MB). */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The default port of the local inference API. */
export const DEFAULT_SERVE_PORT = 3000;

export interface HttpAdapterOptions {
  /** Runs the functions' versions. */
  readonly lambdas: LocalLambdas;
  /** Model name → name of the function serving it (see {@link servingFunctionsOf}). */
  readonly functions: Readonly<Record<string, string>>;
  /** @default 3000 (0: any free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The alias API Gateway invokes. @default SERVING_ALIAS (`live`) */
  readonly alias?: string;
  /** How long an alias's routing is reused before it is read again. @default 1000 ms */
  readonly aliasCacheMs?: number;
  /** Uniform in [0, 1): picks the version by the alias's weights. @default Math.random */
  readonly random?: () => number;
  /** Told about each invocation that failed (the answer is a 502). */
  readonly onFunctionError?: (error: Error, model: string) => void;
}

export interface HttpAdapter {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long the adapter keeps an alias's routing (GetAlias) before reading it again, by default. */
export const ALIAS_CACHE_MS = 1000;

/** An alias's routing: the primary version and the weights of the others (0..1 each). */
export interface AliasRouting {
  readonly version: string;
  readonly weights: Readonly<Record<string, number>>;
}

/** Which version answers, for `r` uniform in [0, 1): each additional version by its weight, else the primary. */
export function pickVersion(routing: AliasRouting, r: number): string {
  let cumulative = 0;
  for (const [version, weight] of Object.entries(routing.weights)) {
    cumulative += weight;
    if (r < cumulative) return version;
  }
  return routing.version;
}

/** The routing GetAlias describes. */
export function aliasRoutingOf(alias: GetAliasCommandOutput): AliasRouting {
  if (!alias.FunctionVersion) throw new Error(`alias ${alias.AliasArn} names no version`);
  return {
    version: alias.FunctionVersion,
    weights: alias.RoutingConfig?.AdditionalVersionWeights ?? {},
  };
}

/**
 * Model name → function name, for every function of the stack that has a {@link SERVING_ALIAS}
 * alias: the model is the function's `MODEL_NAME` (ENV.modelName) in the template.
 */
export function servingFunctionsOf(
  stack: StackArtifact,
  provisioned: ProvisionedStack,
): Record<string, string> {
  const byName = new Map(Object.entries(provisioned.functions).map(([logicalId, name]) => [name, logicalId]));
  const served: Record<string, string> = {};
  for (const alias of Object.values(provisioned.aliases)) {
    if (alias.name !== SERVING_ALIAS) continue;
    const logicalId = byName.get(alias.functionName);
    const resource = logicalId === undefined ? undefined : stack.template.Resources[logicalId];
    if (logicalId === undefined || resource === undefined) continue;
    const env = provisioned.resolve(
      (resource.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {},
      logicalId,
    ) as Record<string, string>;
    const model = env[ENV.modelName];
    if (model) served[model] = alias.functionName;
  }
  return served;
}

type Route = {
  readonly resource: string;
  readonly method: string;
  readonly model?: string;
  /** The body's schema at the gateway (request validator), if the route has one. */
  readonly schema?: BodySchema;
};

/** Route template → [pattern, method]; `{model}` matches one path segment. */
const ROUTE_LIST: readonly { resource: string; method: string; schema?: BodySchema }[] = [
  { resource: API_ROUTES.predict, method: 'POST', schema: PREDICT_BODY_SCHEMA },
  { resource: API_ROUTES.feedback, method: 'POST', schema: FEEDBACK_BODY_SCHEMA },
  { resource: API_ROUTES.health, method: 'GET' },
];
const ROUTES = ROUTE_LIST.map((route) => ({
  ...route,
  pattern: new RegExp(`^${route.resource.replace('{model}', '(?<model>[^/]+)')}/?$`),
}));

type Matched = { readonly route: Route } | { readonly error: ErrorCode; readonly message: string };

/** API Gateway's answer to a resource or method it does not have (MISSING_AUTHENTICATION_TOKEN). */
function noSuchRoute(method: string, path: string): Matched {
  return { error: 'Forbidden', message: `Missing Authentication Token (no route for ${method} ${path})` };
}

function match(method: string, path: string): Matched {
  for (const route of ROUTES) {
    const found = route.pattern.exec(path);
    if (found === null || route.method !== method) continue;
    let model: string | undefined;
    if (found.groups?.model !== undefined) {
      try {
        model = decodeURIComponent(found.groups.model);
      } catch {
        return noSuchRoute(method, path);
      }
    }
    return {
      route: {
        resource: route.resource,
        method,
        ...(model === undefined ? {} : { model }),
        ...(route.schema === undefined ? {} : { schema: route.schema }),
      },
    };
  }
  return noSuchRoute(method, path);
}

/** Whether API Gateway validates a body with this content type against the application/json model. */
function validatesAsJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return true; // no content type: API Gateway takes application/json
  return contentType.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

/** The REST API (v1) proxy event API Gateway gives the function for this request. */
export function proxyEvent(
  request: { method: string; url: URL; headers: IncomingMessage['headersDistinct']; body: string | null },
  route: Route,
  requestId: string,
  sourceIp: string,
): ProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(request.headers)) {
    if (values === undefined) continue;
    multiValueHeaders[name] = values;
    headers[name] = values[values.length - 1] as string;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of request.url.searchParams) {
    query[name] = value;
    multiQuery[name] = [...(multiQuery[name] ?? []), value];
  }
  const hasQuery = Object.keys(query).length > 0;
  const now = Date.now();
  return {
    resource: route.resource,
    path: request.url.pathname,
    httpMethod: route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: route.model === undefined ? null : { model: route.model },
    stageVariables: null,
    body: request.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: route.method,
      path: `/local${request.url.pathname}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: route.resource,
      identity: anonymousIdentity(sourceIp, headers['user-agent'] ?? null),
    },
  };
}

function isProxyResult(value: unknown): value is ProxyResult {
  if (value === null || typeof value !== 'object') return false;
  const result = value as Partial<ProxyResult>;
  return (
    Number.isInteger(result.statusCode) &&
    (result.body === undefined || typeof result.body === 'string') &&
    (result.headers === undefined || (typeof result.headers === 'object' && result.headers !== null))
  );
}

function writeError(
  response: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  requestId: string,
): void {
  const body: ErrorBody = { error: { code, message }, requestId };
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
  response.end(JSON.stringify(body));
}

function writeResult(response: ServerResponse, result: ProxyResult, requestId: string): void {
  const headers: Record<string, string | string[]> = { 'x-amzn-requestid': requestId };
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name.toLowerCase()] = [...values].map(String);
  const body = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? '');
  response.writeHead(result.statusCode, headers);
  response.end(body);
}

/** Reads the body, or undefined when it passes `limit` bytes (the rest is not read). */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

/** Starts the local inference API; resolves once it listens. */
export async function startHttpAdapter(options: HttpAdapterOptions): Promise<HttpAdapter> {
  const aliasName = options.alias ?? SERVING_ALIAS;
  const cacheMs = options.aliasCacheMs ?? ALIAS_CACHE_MS;
  const random = options.random ?? Math.random;
  const routing = new Map<string, { readonly at: number; readonly routing: Promise<AliasRouting> }>();
  const decoder = new TextDecoder('utf-8');

  const routingOf = (functionName: string): Promise<AliasRouting> => {
    const cached = routing.get(functionName);
    if (cached !== undefined && Date.now() - cached.at < cacheMs) return cached.routing;
    const reading = clients
      .lambda()
      .send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }))
      .then(aliasRoutingOf);
    routing.set(functionName, { at: Date.now(), routing: reading });
    reading.catch(() => routing.delete(functionName));
    return reading;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://localhost');
    const matched = match(method, url.pathname);
    if ('error' in matched) {
      request.resume();
      return writeError(response, 403, matched.error, matched.message, requestId);
    }
    const { route } = matched;
    if (route.model === undefined) {
      // GET /v1/health: the mock integration answers; no function runs.
      request.resume();
      const health: HealthResponse = { status: 'ok' };
      response.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
      response.end(JSON.stringify(health));
      return;
    }
    const model = route.model;
    const functionName = options.functions[model];
    if (functionName === undefined) {
      // Deployed, each model has its own literal resources: another model's path is no route.
      request.resume();
      return writeError(
        response,
        403,
        'Forbidden',
        `Missing Authentication Token (no model ${JSON.stringify(model)} on this API; models: ${
          Object.keys(options.functions).sort().join(', ') || 'none'
        })`,
        requestId,
      );
    }
    const body = await readBody(request, API_GATEWAY_MAX_BODY_BYTES);
    if (body === undefined) {
      response.setHeader('connection', 'close');
      return writeError(
        response,
        413,
        'PayloadTooLarge',
        `the request body is over API Gateway's limit of ${API_GATEWAY_MAX_BODY_BYTES} bytes`,
        requestId,
      );
    }
    const text = body.length === 0 ? null : decoder.decode(body);
    if (route.schema !== undefined && validatesAsJson(request.headers['content-type'])) {
      const refusal = bodyRefusal(route.schema, text);
      if (refusal !== undefined) return writeError(response, 400, 'InvalidRequest', refusal, requestId);
    }
    const event = proxyEvent(
      { method, url, headers: request.headersDistinct, body: text },
      route,
      requestId,
      request.socket.remoteAddress ?? '127.0.0.1',
    );
    const payload = JSON.stringify(event); // serialized once: measured here, parsed by the runtime
    const eventBytes = Buffer.byteLength(payload, 'utf8');
    if (eventBytes > LAMBDA_SYNC_PAYLOAD_BYTES)
      return writeError(
        response,
        413,
        'PayloadTooLarge',
        `the request (a ${eventBytes}-byte Lambda event) is over Lambda's limit of ${LAMBDA_SYNC_PAYLOAD_BYTES} bytes for a synchronous invocation`,
        requestId,
      );
    let result: unknown;
    try {
      const version = pickVersion(await routingOf(functionName), random());
      result = await options.lambdas.invokeVersion(functionName, version, event, payload);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      options.onFunctionError?.(e, model);
      const what = e instanceof LambdaFunctionError ? `${e.errorType}: ${e.errorMessage}` : e.message;
      return writeError(
        response,
        502,
        'InternalError',
        `the function serving ${model} failed (${what})`,
        requestId,
      );
    }
    if (!isProxyResult(result)) {
      options.onFunctionError?.(new Error('malformed Lambda proxy response'), model);
      return writeError(response, 502, 'InternalError', 'malformed Lambda proxy response', requestId);
    }
    writeResult(response, result, requestId);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent)
        writeError(response, 500, 'InternalError', `local adapter: ${String(error)}`, 'local');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_SERVE_PORT, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
