/**
 * What a SageMaker training job left in `model.tar.gz` (its /opt/ml/model, gzip-compressed tar):
 * `model.onnx`, and optionally `metrics.json`. Read as a stream with bounded memory: the unpacked
 * bytes are counted as they are inflated, so a gzip bomb is refused at the cap instead of filling
 * memory, and only the two files are kept (other entries are skipped unread).
 *
 * Plain code: no AWS SDK.
 */
import { createGunzip, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import * as z from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { parseOrThrow } from '../../shared/validation.js';

export const MODEL_FILE = 'model.onnx';
export const METRICS_FILE = 'metrics.json';
/** The field errors about the archive itself name. */
export const ARCHIVE_FIELD = 'model.tar.gz';
/** Most bytes an archive may unpack to (every entry, headers included): ONNX's own protobuf limit. */
export const MAX_UNPACKED_BYTES = 2 * 2 ** 30;
/** Most bytes of metrics.json. */
export const MAX_METRICS_BYTES = 1 * 2 ** 20;
/** Most metrics a job may report (the registry's cap of indexed metrics). */
export const MAX_REPORTED_METRICS = 90;

/** metrics.json: an object of finite numbers, named as the registry names metrics. */
const reportedMetricsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'metric names must be 1-128 of A-Z a-z 0-9 _ . : / -'),
    z.number({ error: 'must be a finite number' }),
    { error: 'must be a JSON object of metric name to finite number' },
  )
  .refine(
    (m) => Object.keys(m).length <= MAX_REPORTED_METRICS,
    `must hold at most ${MAX_REPORTED_METRICS} metrics`,
  );

export interface UnpackedModel {
  readonly onnx: Uint8Array;
  /** metrics.json, when the job wrote one. */
  readonly metrics?: Readonly<Record<string, number>>;
}

export interface UnpackOptions {
  /** @default MAX_UNPACKED_BYTES */
  readonly maxUnpackedBytes?: number;
}

/** `model.onnx` and `./model.onnx` are the same top-level file. */
const entryName = (name: string) => name.replace(/^(\.\/)+/, '');

class UnpackLimitError extends ValidationError {
  constructor(maxBytes: number) {
    super(
      ARCHIVE_FIELD,
      `must unpack to at most ${maxBytes} bytes (larger archives are refused, so that one cannot exhaust memory)`,
    );
  }
}

/**
 * Inflates `tarGz` into `extract`, counting the inflated bytes; settles once, on the first error
 * or when `extract` has taken everything. (tar-stream's streams are streamx ones, which emit errors
 * after node's `pipeline` has let go of them: here every error has a listener to the end.)
 */
function inflateInto(tarGz: Uint8Array, extract: tar.Extract, maxBytes: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const gunzip = createGunzip();
    let unpacked = 0;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reject(error);
      gunzip.destroy();
      extract.destroy();
    };
    gunzip.on('error', fail);
    extract.on('error', fail);
    extract.on('finish', () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    });
    gunzip.on('data', (chunk: Buffer) => {
      unpacked += chunk.length;
      if (unpacked > maxBytes) return fail(new UnpackLimitError(maxBytes));
      if (!extract.write(chunk)) {
        gunzip.pause();
        extract.once('drain', () => gunzip.resume());
      }
    });
    gunzip.on('end', () => extract.end(() => {}));
    gunzip.end(Buffer.from(tarGz.buffer, tarGz.byteOffset, tarGz.byteLength));
  });
}

function parseMetrics(bytes: Uint8Array): Record<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ValidationError(METRICS_FILE, 'must be UTF-8 JSON: an object of metric name to finite number');
  }
  // JSON has no NaN or Infinity literals, but 1e999 parses as Infinity.
  if (value !== null && typeof value === 'object' && !Array.isArray(value))
    for (const [name, v] of Object.entries(value))
      if (typeof v === 'number' && !Number.isFinite(v))
        throw new ValidationError(`${METRICS_FILE}.${name}`, 'must be a finite number');
  return parseOrThrow(reportedMetricsSchema, value, METRICS_FILE);
}

/**
 * Unpacks `model.onnx` (required) and `metrics.json` (optional) from a job's model.tar.gz. Bad
 * input is a ValidationError: an archive that is not gzip'd tar, unpacks past the cap, holds no
 * model.onnx (or two), or a metrics.json that is not an object of finite numbers.
 */
export async function unpackModelArchive(
  tarGz: Uint8Array,
  options: UnpackOptions = {},
): Promise<UnpackedModel> {
  const maxBytes = options.maxUnpackedBytes ?? MAX_UNPACKED_BYTES;
  const files = new Map<string, Uint8Array>();
  let firstProblem: ValidationError | undefined;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const name = entryName(header.name);
    // An entry cut short (the archive failed) errors too; the extract reports that error once.
    stream.on('error', () => {});
    const wanted = name === MODEL_FILE || name === METRICS_FILE;
    if (!wanted) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    let problem: ValidationError | undefined;
    if (header.type !== 'file' && header.type !== 'contiguous-file')
      problem = new ValidationError(name, `must be a regular file in ${ARCHIVE_FIELD}, not a ${header.type}`);
    else if (files.has(name))
      problem = new ValidationError(name, `must occur once in ${ARCHIVE_FIELD} (it occurs twice)`);
    else if (name === METRICS_FILE && (header.size ?? 0) > MAX_METRICS_BYTES)
      problem = new ValidationError(METRICS_FILE, `must be at most ${MAX_METRICS_BYTES} bytes`);
    if (problem !== undefined) {
      // Reported once everything is read (failing the entry would leave its stream erroring unheard).
      firstProblem ??= problem;
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      files.set(name, new Uint8Array(Buffer.concat(chunks)));
      next();
    });
  });
  try {
    await inflateInto(tarGz, extract, maxBytes);
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(
      ARCHIVE_FIELD,
      `must be a gzip-compressed tar archive (${(error as Error).message})`,
    );
  }
  if (firstProblem !== undefined) throw firstProblem;
  const onnx = files.get(MODEL_FILE);
  if (onnx === undefined)
    throw new ValidationError(
      MODEL_FILE,
      'the SageMaker job wrote no model.onnx to /opt/ml/model (the job must export its model as ONNX there)',
    );
  const metrics = files.get(METRICS_FILE);
  return metrics === undefined ? { onnx } : { onnx, metrics: parseMetrics(metrics) };
}

/** One file of an archive {@link packModelArchive} writes. */
export interface ArchiveEntry {
  /** Path inside the archive (`model.onnx`, `./metrics.json`). */
  readonly name: string;
  readonly body: Uint8Array | string;
}

/**
 * A model.tar.gz as SageMaker packs /opt/ml/model: the entries as regular files, in order, with a
 * fixed mtime (so the same entries give the same bytes). The local SageMaker stand-in and tests
 * write archives with it.
 */
export async function packModelArchive(entries: readonly ArchiveEntry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const body = typeof entry.body === 'string' ? Buffer.from(entry.body, 'utf8') : Buffer.from(entry.body);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: entry.name, size: body.length, mtime: new Date(0), mode: 0o644 }, body, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  pack.finalize();
  await collected;
  return new Uint8Array(gzipSync(Buffer.concat(chunks)));
}
