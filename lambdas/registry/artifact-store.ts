/**
 * Writes model artifacts to the registry's S3 bucket at their content-addressed key, with a SHA-256
 * checksum S3 verifies on upload and keeps, so registration can check the digest it is given.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { artifactKey, parseModelName } from './model-version.js';

export interface StoredArtifact {
  readonly key: string;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** Uploads an artifact (write-once: the key is derived from the content). */
export async function putModelArtifact(
  s3: S3Client,
  bucket: string,
  modelName: string,
  body: Uint8Array,
  fileName = 'model.onnx',
): Promise<StoredArtifact> {
  const name = parseModelName(modelName);
  const digest = createHash('sha256').update(body).digest();
  const sha256 = digest.toString('hex');
  const key = artifactKey(name, sha256, fileName);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ChecksumSHA256: digest.toString('base64'),
      ContentType: 'application/octet-stream',
    }),
  );
  return { key, sha256, sizeBytes: body.byteLength };
}
