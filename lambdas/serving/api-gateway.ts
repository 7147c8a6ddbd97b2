/**
 * API Gateway's REST API (v1) Lambda proxy integration shapes: the event API Gateway gives the
 * inference function and the result it expects back. Written here because `@types/aws-lambda` is
 * not among the project's dependencies; field names and meanings are API Gateway's (see "Input
 * format of a Lambda function for proxy integration" in its developer guide): the whole event
 * the local adapter (local/http-adapter.ts) and the deploy readiness check build. The inference
 * app's own `ProxyEvent` (./http.ts) is a subset picked from this one.
 */

export interface ProxyEventIdentity {
  readonly sourceIp: string;
  readonly userAgent: string | null;
  readonly [field: string]: string | null;
}

export interface ProxyRequestContext {
  readonly accountId: string;
  readonly apiId: string;
  readonly stage: string;
  readonly requestId: string;
  readonly requestTimeEpoch: number;
  readonly resourceId: string;
  readonly resourcePath: string;
  readonly httpMethod: string;
  readonly path: string;
  readonly protocol: string;
  readonly identity: ProxyEventIdentity;
  readonly authorizer: Readonly<Record<string, unknown>> | null;
}

/** What API Gateway sends the function (REST API, Lambda proxy integration). */
export interface ProxyEvent {
  /** The route template, e.g. `/v1/models/{model}/predict`. */
  readonly resource: string;
  /** The request path, e.g. `/v1/models/churn/predict`. */
  readonly path: string;
  readonly httpMethod: string;
  readonly headers: Readonly<Record<string, string>> | null;
  readonly multiValueHeaders: Readonly<Record<string, readonly string[]>> | null;
  readonly queryStringParameters: Readonly<Record<string, string>> | null;
  readonly multiValueQueryStringParameters: Readonly<Record<string, readonly string[]>> | null;
  readonly pathParameters: Readonly<Record<string, string>> | null;
  readonly stageVariables: Readonly<Record<string, string>> | null;
  readonly requestContext: ProxyRequestContext;
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
}

/** What the function answers. */
export interface ProxyResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string | number | boolean>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly (string | number | boolean)[]>>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

/** The identity API Gateway reports for an unauthenticated caller at `sourceIp`. */
export function anonymousIdentity(sourceIp: string, userAgent: string | null): ProxyEventIdentity {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}
