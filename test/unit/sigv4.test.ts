import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch } from '../../local/sigv4.js';

let received: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string } | undefined;
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  request.on('end', () => {
    received = { method: request.method, url: request.url, headers: request.headers, body };
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"ok":true}');
  });
});
let base: string;
const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const [key, value] of [
    ['AWS_ACCESS_KEY_ID', saved.id],
    ['AWS_SECRET_ACCESS_KEY', saved.secret],
  ] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('signedFetch', () => {
  it('sends the request SigV4-signed for the service and region, body and query unchanged', async () => {
    const response = await signedFetch({
      url: `${base}/prod/v1/models/churn/predict?trace=1`,
      method: 'POST',
      service: 'execute-api',
      region: 'eu-west-1',
      headers: { 'content-type': 'application/json' },
      body: '{"features":{"x":1}}',
    });
    expect(await response.json()).toEqual({ ok: true });
    expect(received?.method).toBe('POST');
    expect(received?.url).toBe('/prod/v1/models/churn/predict?trace=1');
    expect(received?.body).toBe('{"features":{"x":1}}');
    expect(received?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*content-type[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(received?.headers.authorization).toMatch(/SignedHeaders=[^,]*host/);
    expect(received?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });
});
