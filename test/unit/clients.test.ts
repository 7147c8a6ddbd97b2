import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { CONNECTION_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../lambdas/shared/clients/settings.js';
import { clientSettings, createS3Client, createStsClient } from '../../lambdas/shared/clients.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FACTORY_DIR = path.join(ROOT, 'lambdas/shared/clients');
const AGGREGATOR = path.join(ROOT, 'lambdas/shared/clients.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

const relative = (files: string[]) => files.map((file) => path.relative(ROOT, file));

describe('client factory', () => {
  it('points every client at AWS_ENDPOINT_URL when it is set', async () => {
    const settings = clientSettings({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_REGION: 'eu-west-1' });
    expect(settings).toMatchObject({
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-west-1',
      maxAttempts: 5,
    });
    const s3 = createS3Client(settings);
    const endpoint = await s3.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(4566);
    expect(s3.config.forcePathStyle).toBe(true);
  });

  it('uses the default AWS endpoints and virtual-hosted S3 when no endpoint is set', () => {
    const settings = clientSettings({ AWS_REGION: 'us-west-2' });
    expect(settings.endpoint).toBeUndefined();
    expect(createS3Client(settings).config.forcePathStyle).toBe(false);
  });

  it('treats a blank AWS_ENDPOINT_URL as unset', () => {
    expect(clientSettings({ AWS_ENDPOINT_URL: '  ' }).endpoint).toBeUndefined();
  });

  it("gives the SDK's own HTTP handler the project's timeouts and socket pool", async () => {
    const server = createServer((_request, response) => response.writeHead(200).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const s3 = createS3Client(
        clientSettings({ AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_REGION: 'us-east-1' }),
      );
      process.env.AWS_ACCESS_KEY_ID ??= 'test';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
      await s3.send(new HeadBucketCommand({ Bucket: 'probe' })); // the handler resolves its options on first use
      const handler = s3.config.requestHandler as unknown as {
        httpHandlerConfigs(): { connectionTimeout?: number; requestTimeout?: number; httpAgent?: unknown };
      };
      const options = handler.httpHandlerConfigs();
      expect(options).toMatchObject({
        connectionTimeout: CONNECTION_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
      });
      expect(options.httpAgent).toMatchObject({ keepAlive: true, maxSockets: 64 });
      s3.destroy();
    } finally {
      server.close();
    }
  });

  it('signs STS GetCallerIdentity with SigV4 for the sts service and reads the caller ARN', async () => {
    let seen: { headers: Record<string, unknown>; body: string } | undefined;
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        seen = { headers: request.headers, body };
        response
          .writeHead(200, { 'content-type': 'text/xml' })
          .end(
            '<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role/ci/run-7</Arn><UserId>AROA:run-7</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>',
          );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      process.env.AWS_ACCESS_KEY_ID ??= 'test';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
      const sts = createStsClient(
        clientSettings({ AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_REGION: 'eu-west-1' }),
      );
      const identity = await sts.getCallerIdentity();
      expect(identity).toEqual({
        arn: 'arn:aws:sts::111122223333:assumed-role/ci/run-7',
        account: '111122223333',
        userId: 'AROA:run-7',
      });
      expect(seen?.body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
      expect(String(seen?.headers.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/eu-west-1\/sts\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
      );
    } finally {
      server.close();
    }
  });

  it('is the only code that constructs AWS SDK clients', () => {
    const offenders = ['lambdas', 'lib', 'local', 'bin']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => !file.startsWith(`${FACTORY_DIR}${path.sep}`))
      .filter((file) =>
        /new\s+[A-Z][A-Za-z0-9]*Client\s*\(|DynamoDBDocumentClient\.from\(/.test(readFileSync(file, 'utf8')),
      );
    expect(relative(offenders)).toEqual([]);
  });

  it('builds each service in its own module, none importing another service', () => {
    const services = sourceFiles(FACTORY_DIR).filter((file) => !file.endsWith('settings.ts'));
    expect(services.length).toBeGreaterThan(0);
    const mixed = services.filter(
      (file) => new Set(readFileSync(file, 'utf8').match(/@aws-sdk\/client-[a-z0-9-]+/g) ?? []).size > 1,
    );
    expect(relative(mixed)).toEqual([]);
    expect(readFileSync(path.join(FACTORY_DIR, 'settings.ts'), 'utf8')).not.toMatch(
      /from\s+'(?:@aws-sdk|@smithy)\//,
    );
  });

  it('keeps Lambda code off the all-clients module (it would load every client at cold start)', () => {
    const offenders = sourceFiles(path.join(ROOT, 'lambdas'))
      .filter((file) => file !== AGGREGATOR)
      .filter((file) => /from\s+'[./]*\/?(?:shared\/)?clients\.js'/.test(readFileSync(file, 'utf8')));
    expect(relative(offenders)).toEqual([]);
  });

  it("imports zod as a namespace in runtime code, so a bundle tree-shakes zod's locale tables", () => {
    // `import { z } from 'zod'` takes zod's `z` namespace object whole, `z.locales` (~260 KB) included.
    const offenders = sourceFiles(path.join(ROOT, 'lambdas')).filter((file) =>
      /import\s+\{[^}]*\bz\b[^}]*\}\s+from\s+'zod/.test(readFileSync(file, 'utf8')),
    );
    expect(relative(offenders)).toEqual([]);
  });
});
