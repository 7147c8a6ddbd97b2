/**
 * STS: who the caller is (GetCallerIdentity), which the CLI records as `createdBy` and history `by`
 * when it talks to AWS. No Lambda needs it.
 *
 * `@aws-sdk/client-sts` is not among the project's dependencies, so this module makes the one call
 * itself: the STS Query API (`Action=GetCallerIdentity`), signed with SigV4 by `@smithy/signature-v4`
 * with credentials from the SDK's default chain (`@aws-sdk/credential-provider-node`) — the same
 * credentials and signer every SDK client uses. Swap for `GetCallerIdentityCommand` when the package
 * is added; the interface stays.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { type ClientSettings, clientSettings, memo, REQUEST_TIMEOUT_MS } from './settings.js';

/** Who the credentials belong to. */
export interface CallerIdentity {
  /** The IAM principal's ARN (user, assumed role session, root). */
  readonly arn: string;
  readonly account: string;
  readonly userId: string;
}

export interface StsClient {
  getCallerIdentity(): Promise<CallerIdentity>;
}

/** An STS error response, named by its `<Code>` (as SDK errors are). */
export class StsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = code;
  }
}

/** SHA-256 (and HMAC-SHA-256 with a secret) in the shape the signer takes. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('Sha256.reset is not supported');
  }
}

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** Builds an STS client with the project's settings (region, endpoint override, timeouts). */
export function createStsClient(settings: ClientSettings = clientSettings()): StsClient {
  const endpoint = new URL(settings.endpoint ?? `https://sts.${settings.region}.amazonaws.com`);
  const signer = new SignatureV4({
    service: 'sts',
    region: settings.region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  return {
    async getCallerIdentity() {
      const signed = await signer.sign({
        method: 'POST',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
        path: endpoint.pathname || '/',
        query: {},
        headers: {
          host: endpoint.host,
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        },
        body: BODY,
      });
      const { status, text } = await post(endpoint, signed.headers, BODY);
      if (status < 200 || status >= 300) {
        throw new StsError(
          tag(text, 'Code') ?? 'StsError',
          tag(text, 'Message') ?? text.slice(0, 200),
          status,
        );
      }
      const arn = tag(text, 'Arn');
      if (arn === undefined)
        throw new StsError('MalformedResponse', 'GetCallerIdentity returned no Arn', status);
      return { arn, account: tag(text, 'Account') ?? '', userId: tag(text, 'UserId') ?? '' };
    },
  };
}

/** The process-wide STS client. */
export const stsClient = (): StsClient => memo('sts', () => createStsClient());

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error('STS request timed out')));
    request.on('error', reject);
    request.end(body);
  });
}
