/**
 * The one place that builds AWS SDK v3 clients. Every other module asks here, so endpoint
 * overrides (an emulator, LocalStack), retries and connection reuse are decided once.
 *
 * - `AWS_ENDPOINT_URL` (the SDK's own variable) points every client at an emulator; S3 then uses
 *   path-style addressing, since emulators do not serve virtual-hosted bucket names.
 * - Retries: the SDK's standard mode with 5 attempts (exponential backoff with jitter).
 * - Keep-alive sockets with bounded pools; connect and request timeouts so a dead endpoint fails
 *   fast instead of hanging a Lambda until its timeout.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Settings shared by every client the project builds. */
export interface ClientSettings {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly maxAttempts: number;
  readonly maxSockets: number;
}

/** Reads the client settings from the environment (the SDK's own variable names). */
export function clientSettings(env: NodeJS.ProcessEnv = process.env): ClientSettings {
  const endpoint = env.AWS_ENDPOINT_URL?.trim() || undefined;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint,
    maxAttempts: 5,
    maxSockets: 64,
  };
}

function baseConfig(settings: ClientSettings) {
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets };
  return {
    region: settings.region,
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard' as const,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
    }),
  };
}

/** Builds a DynamoDB client with the project's settings. */
export function createDynamoDbClient(settings: ClientSettings = clientSettings()): DynamoDBClient {
  return new DynamoDBClient(baseConfig(settings));
}

/** Builds a DynamoDB document client (native JS values, `undefined` attributes removed). */
export function createDocumentClient(settings: ClientSettings = clientSettings()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoDbClient(settings), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

/** Builds an S3 client; path-style addressing whenever an endpoint override is set. */
export function createS3Client(settings: ClientSettings = clientSettings()): S3Client {
  return new S3Client({ ...baseConfig(settings), forcePathStyle: settings.endpoint !== undefined });
}

/** Builds a CloudFormation client (the CLI reads stack outputs with it). */
export function createCloudFormationClient(
  settings: ClientSettings = clientSettings(),
): CloudFormationClient {
  return new CloudFormationClient(baseConfig(settings));
}

const cache = new Map<string, unknown>();

function memo<T>(key: string, make: () => T): T {
  const settings = clientSettings();
  const cacheKey = `${key}|${settings.region}|${settings.endpoint ?? ''}`;
  let client = cache.get(cacheKey) as T | undefined;
  if (client === undefined) {
    client = make();
    cache.set(cacheKey, client);
  }
  return client;
}

/**
 * Process-wide clients, built on first use and reused (once per Lambda cold start). A change of
 * region or endpoint in the environment yields a fresh client rather than a stale one.
 */
export const clients = {
  dynamodb: (): DynamoDBClient => memo('dynamodb', () => createDynamoDbClient()),
  documents: (): DynamoDBDocumentClient => memo('documents', () => createDocumentClient()),
  s3: (): S3Client => memo('s3', () => createS3Client()),
  cloudformation: (): CloudFormationClient => memo('cloudformation', () => createCloudFormationClient()),
};
