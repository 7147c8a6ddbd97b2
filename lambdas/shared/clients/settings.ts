/**
 * Settings every AWS SDK client the project builds shares, and the per-process cache the
 * per-service factories (`./dynamodb.ts`, `./s3.ts`, `./cloudformation.ts`) keep their clients in.
 * No SDK import here: a bundle pulls in only the service modules it uses.
 *
 * - `AWS_ENDPOINT_URL` (the SDK's own variable) points every client at an emulator; S3 then uses
 *   path-style addressing, since emulators do not serve virtual-hosted bucket names.
 * - Retries: the SDK's standard mode with 5 attempts (exponential backoff with jitter).
 * - Keep-alive sockets with bounded pools; connect and request timeouts so a dead endpoint fails
 *   fast instead of hanging a Lambda until its timeout. The request handler is given as options,
 *   not as an instance: the SDK builds it from its own `@smithy/node-http-handler`, so a bundle
 *   carries no second copy of the HTTP core beside the one the runtime's SDK ships.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** Settings shared by every client the project builds. */
export interface ClientSettings {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly maxAttempts: number;
  readonly maxSockets: number;
}

/** Milliseconds to wait for a connection before failing the attempt. */
export const CONNECTION_TIMEOUT_MS = 3_000;
/** Milliseconds one request may take before failing the attempt. */
export const REQUEST_TIMEOUT_MS = 30_000;

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

/** The configuration every client starts from. */
export function baseConfig(settings: ClientSettings) {
  const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets };
  return {
    region: settings.region,
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard' as const,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    requestHandler: {
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
  };
}

const cache = new Map<string, unknown>();

/**
 * A process-wide client, built on first use and reused (once per Lambda cold start). A change of
 * region or endpoint in the environment yields a fresh client rather than a stale one.
 */
export function memo<T>(key: string, make: () => T): T {
  const settings = clientSettings();
  const cacheKey = `${key}|${settings.region}|${settings.endpoint ?? ''}`;
  let client = cache.get(cacheKey) as T | undefined;
  if (client === undefined) {
    client = make();
    cache.set(cacheKey, client);
  }
  return client;
}
