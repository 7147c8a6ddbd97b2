/**
 * SigV4-signed HTTP requests with the credentials and hashing the project's SDK clients use (the
 * default credential chain, via `clients.lambda()`'s resolved configuration): for `mlops predict`
 * against a deployed API (service `execute-api`) and for the few emulator calls the project has
 * no SDK client for (IAM's Query API, see iam-roles.ts).
 */
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { clients } from '../lambdas/shared/clients.js';

export interface SignedRequest {
  readonly url: string;
  readonly method: string;
  readonly service: string;
  readonly region: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Signs a request and sends it with fetch; the response is returned as it is. */
export async function signedFetch(request: SignedRequest): Promise<Response> {
  const config = clients.lambda().config;
  const signer = new SignatureV4({
    service: request.service,
    region: request.region,
    credentials: config.credentials,
    sha256: config.sha256,
  });
  const url = new URL(request.url);
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = value;
  const unsigned = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    method: request.method,
    path: url.pathname,
    query,
    headers: { host: url.host, ...request.headers },
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const signed = await signer.sign(unsigned);
  return fetch(url, {
    method: request.method,
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([key]) => key !== 'host')),
    ...(request.body === undefined ? {} : { body: request.body }),
  });
}
