/** S3 clients with the project's settings (see `./settings.ts`). */
import { S3Client } from '@aws-sdk/client-s3';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds an S3 client; path-style addressing whenever an endpoint override is set. */
export function createS3Client(settings: ClientSettings = clientSettings()): S3Client {
  return new S3Client({ ...baseConfig(settings), forcePathStyle: settings.endpoint !== undefined });
}

/** The process-wide S3 client. */
export const s3Client = (): S3Client => memo('s3', () => createS3Client());
