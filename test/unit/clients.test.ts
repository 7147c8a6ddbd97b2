import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientSettings, createS3Client } from '../../lambdas/shared/clients.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

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

  it('is the only code that constructs AWS SDK clients', () => {
    const factory = path.join(ROOT, 'lambdas/shared/clients.ts');
    const offenders = ['lambdas', 'lib', 'local', 'bin']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => file !== factory)
      .filter((file) =>
        /new\s+[A-Z][A-Za-z0-9]*Client\s*\(|DynamoDBDocumentClient\.from\(/.test(readFileSync(file, 'utf8')),
      );
    expect(offenders.map((file) => path.relative(ROOT, file))).toEqual([]);
  });
});
