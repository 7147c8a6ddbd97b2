/**
 * A small object-store interface the plain modules write through, and its S3 implementation.
 * Plain logic (ingestion, materialization, datasets) depends on the interface only.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export interface ObjectStore {
  /** Writes an object. With `ifAbsent`, writes only if no object has the key and returns false otherwise. */
  put(
    key: string,
    body: Uint8Array | string,
    options?: { contentType?: string; ifAbsent?: boolean },
  ): Promise<boolean>;
  /** Reads an object, or undefined when absent. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Lists keys under a prefix, in key order; with `startAfter`, only the keys after it. */
  list(prefix: string, options?: { startAfter?: string }): AsyncIterable<string>;
}

/** {@link ObjectStore} over one S3 bucket. */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async put(
    key: string,
    body: Uint8Array | string,
    options: { contentType?: string; ifAbsent?: boolean } = {},
  ) {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (options.ifAbsent && (status === 412 || (error as Error).name === 'PreconditionFailed'))
        return false;
      throw error;
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return result.Body ? await result.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async *list(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(options.startAfter && !token ? { StartAfter: options.startAfter } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}
