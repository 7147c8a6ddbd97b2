/**
 * A small object-store interface the plain modules write through, and its S3 implementation.
 * Plain logic (ingestion, materialization, datasets) depends on the interface only.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ValidationError } from './errors.js';

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

/**
 * An {@link ObjectStore} that can also size, copy and delete objects: what ingestion needs to stage a
 * batch's files out of readers' sight and publish them once the batch is committed.
 */
export interface StagingStore extends ObjectStore {
  /** The object's size in bytes (HeadObject), or undefined when absent. */
  size(key: string): Promise<number | undefined>;
  /** Copies an object inside the store; false when the source is absent. */
  copy(fromKey: string, toKey: string): Promise<boolean>;
  /** Deletes an object (absent is fine). */
  delete(key: string): Promise<void>;
}

/**
 * Reads an input object after checking its size (HeadObject), so an oversized one is refused before
 * a byte of it is held in memory. A ValidationError names `field` when the object is absent or
 * larger than `maxBytes`.
 */
export async function readBounded(
  store: StagingStore,
  key: string,
  field: string,
  maxBytes: number,
): Promise<Uint8Array> {
  const missing = () => new ValidationError(field, `must name an existing object (no object at ${key})`);
  const size = await store.size(key);
  if (size === undefined) throw missing();
  if (size > maxBytes)
    throw new ValidationError(
      field,
      `must name an object of at most ${maxBytes} bytes (${key} is ${size} bytes); split it`,
    );
  const body = await store.get(key);
  if (body === undefined) throw missing();
  if (body.byteLength > maxBytes)
    throw new ValidationError(
      field,
      `must name an object of at most ${maxBytes} bytes (${key} grew to ${body.byteLength})`,
    );
  return body;
}

const isMissing = (error: unknown) => {
  const name = (error as Error).name;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return error instanceof NoSuchKey || name === 'NoSuchKey' || name === 'NotFound' || status === 404;
};

/** {@link ObjectStore} over one S3 bucket. */
export class S3ObjectStore implements StagingStore {
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

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async copy(fromKey: string, toKey: string): Promise<boolean> {
    try {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: toKey,
          CopySource: `${this.bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
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
