/**
 * The local stand-in for CloudWatch Logs' embedded-metric-format (EMF) extraction. On AWS, a
 * function's log lines that are EMF documents (a JSON object with `_aws.CloudWatchMetrics`) become
 * CloudWatch metrics; locally the functions run in this process (local/lambda-runtime.ts) and print
 * to process.stdout, so {@link forwardEmf} taps that stream, reads each complete line and puts what
 * CloudWatch Logs would extract into the emulator with PutMetricData.
 *
 * Extraction follows the EMF specification: each directive of `_aws.CloudWatchMetrics`, each of its
 * dimension sets (≤ 30 keys; an empty set is a metric without dimensions) and each of its metrics
 * gives one datum: the directive's namespace, the metric's name and unit, the dimension values read
 * from the document's top level, `_aws.Timestamp` and the metric's value at the top level, a number
 * or an array of numbers (≤ 100). A document that breaks the specification (not JSON, `_aws` not
 * an object, no numeric Timestamp, a directive without Namespace, Dimensions or Metrics, a
 * dimension without a string value, a metric without a number value, an unknown unit) yields no
 * metric at all: CloudWatch Logs drops such a document's metrics too (it stores the log event and
 * counts the failure in `AWS/Logs` EMFParsingErrors / EMFValidationErrors); here it is counted in
 * {@link EmfForwarderStats.invalid}. Lines without `"_aws"` are ordinary logs and are left alone.
 *
 * Equal datums (namespace, name, dimensions, unit, resolution, timestamp bucket) share one
 * MetricDatum with `Values`/`Counts`, as CloudWatch itself aggregates: a standard-resolution value
 * counts in its minute (the timestamp is rounded down to it), a `StorageResolution: 1` value in its
 * second. Calls respect PutMetricData's limits (one namespace per call, ≤ 1000 datums and ≤ 1 MB per
 * call, ≤ 150 distinct values per datum). A failed call is written to stderr and counted in
 * {@link EmfForwarderStats}; its datums are not retried.
 */
import { StringDecoder } from 'node:string_decoder';
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { clients } from '../lambdas/shared/clients.js';

/** CloudWatch's units (PutMetricData's StandardUnit); EMF allows no other. */
const UNITS = new Set(
  `Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent
  Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None`.split(
    /\s+/,
  ),
);

/** EMF's and PutMetricData's limits. */
export const EMF_LIMITS = {
  dimensionsPerSet: 30,
  metricsPerDirective: 100,
  valuesPerMetric: 100,
  /** A CloudWatch Logs event is at most 1 MB; a longer line cannot be a document. */
  lineBytes: 1024 * 1024,
  datumsPerCall: 1000,
  bytesPerCall: 1024 * 1024,
  valuesPerDatum: 150,
} as const;

/** One extracted metric value set: what one PutMetricData MetricDatum carries. */
export interface Datum {
  readonly namespace: string;
  readonly name: string;
  /** In the order of the dimension set. */
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  readonly unit: string | undefined;
  /** 1 (high resolution) or 60 (standard). */
  readonly storageResolution: 1 | 60;
  /** `_aws.Timestamp`, milliseconds since the epoch. */
  readonly timestamp: number;
  readonly values: readonly number[];
}

/** What a log line is: not EMF, an invalid EMF document (with the rule it broke), or its datums. */
export type EmfLine =
  | { readonly kind: 'log' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'emf'; readonly datums: readonly Datum[] };

class InvalidEmf extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEmf';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one log line (without its newline) as CloudWatch Logs would. Never throws. */
export function readEmf(line: string): EmfLine {
  if (!line.includes('"_aws"')) return { kind: 'log' };
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'not a JSON document' };
  }
  if (!isObject(doc) || !('_aws' in doc)) return { kind: 'log' };
  try {
    return { kind: 'emf', datums: extract(doc) };
  } catch (error) {
    if (error instanceof InvalidEmf) return { kind: 'invalid', reason: error.message };
    throw error;
  }
}

/** The datums of an EMF line; `[]` for a line that is not EMF, undefined for an invalid document. */
export function emfDatums(line: string): Datum[] | undefined {
  const read = readEmf(line);
  if (read.kind === 'invalid') return undefined;
  return read.kind === 'emf' ? [...read.datums] : [];
}

function extract(doc: Record<string, unknown>): Datum[] {
  const aws = doc._aws;
  if (!isObject(aws)) throw new InvalidEmf('_aws must be an object');
  const timestamp = aws.Timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp))
    throw new InvalidEmf('_aws.Timestamp must be a number (milliseconds since the epoch)');
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives)) throw new InvalidEmf('_aws.CloudWatchMetrics must be an array');
  const datums: Datum[] = [];
  directives.forEach((directive, d) => {
    const at = `_aws.CloudWatchMetrics[${d}]`;
    if (!isObject(directive)) throw new InvalidEmf(`${at} must be an object`);
    const { Namespace: namespace, Dimensions: sets, Metrics: metrics } = directive;
    if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 1024)
      throw new InvalidEmf(`${at}.Namespace must be a string of 1 to 1024 characters`);
    if (!Array.isArray(sets)) throw new InvalidEmf(`${at}.Dimensions must be an array of dimension sets`);
    if (!Array.isArray(metrics) || metrics.length > EMF_LIMITS.metricsPerDirective)
      throw new InvalidEmf(`${at}.Metrics must be an array of at most ${EMF_LIMITS.metricsPerDirective}`);
    const dimensionSets = sets.map((set, s) => {
      if (!Array.isArray(set) || set.length > EMF_LIMITS.dimensionsPerSet)
        throw new InvalidEmf(
          `${at}.Dimensions[${s}] must be an array of at most ${EMF_LIMITS.dimensionsPerSet} keys`,
        );
      return set.map((key) => {
        if (typeof key !== 'string') throw new InvalidEmf(`${at}.Dimensions[${s}] must hold strings`);
        const value = doc[key];
        if (typeof value !== 'string' || value.trim() === '')
          throw new InvalidEmf(`dimension ${key} must have a non-empty string value at the top level`);
        return { name: key, value };
      });
    });
    // A directive with no dimension set publishes its metrics without dimensions.
    if (dimensionSets.length === 0) dimensionSets.push([]);
    for (const [m, metric] of metrics.entries()) {
      if (!isObject(metric) || typeof metric.Name !== 'string' || metric.Name === '')
        throw new InvalidEmf(`${at}.Metrics[${m}].Name must be a non-empty string`);
      const name = metric.Name;
      const unit = metric.Unit;
      if (unit !== undefined && (typeof unit !== 'string' || !UNITS.has(unit)))
        throw new InvalidEmf(`metric ${name}: unit ${JSON.stringify(unit)} is not a CloudWatch unit`);
      const resolution = metric.StorageResolution ?? 60;
      if (resolution !== 1 && resolution !== 60)
        throw new InvalidEmf(`metric ${name}: StorageResolution must be 1 or 60`);
      const values = valuesOf(name, doc[name]);
      for (const dimensions of dimensionSets)
        datums.push({ namespace, name, dimensions, unit, storageResolution: resolution, timestamp, values });
    }
  });
  return datums;
}

function valuesOf(name: string, raw: unknown): number[] {
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0 || values.length > EMF_LIMITS.valuesPerMetric)
    throw new InvalidEmf(
      `metric ${name}: an array value must hold 1 to ${EMF_LIMITS.valuesPerMetric} numbers`,
    );
  for (const value of values)
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new InvalidEmf(`metric ${name}: value must be a number or an array of numbers`);
  return values as number[];
}

/** What the forwarder has seen and done. */
export interface EmfForwarderStats {
  /** Complete lines seen. */
  readonly lines: number;
  /** Valid EMF documents. */
  readonly documents: number;
  /** Invalid EMF documents (or over-long lines), skipped as CloudWatch Logs skips them. */
  readonly invalid: number;
  /** Metric values extracted (each element of an array value counts). */
  readonly values: number;
  /** PutMetricData calls made, and failed. */
  readonly calls: number;
  readonly failedCalls: number;
  /** Metric values PutMetricData accepted, and lost to failed calls. */
  readonly published: number;
  readonly lost: number;
  /** The last failure's message. */
  readonly lastError: string | undefined;
}

export interface EmfForwarder {
  /** Sends every value extracted so far; resolves when the emulator has answered. */
  flush(): Promise<void>;
  /** Unhooks stdout (what it wrapped keeps receiving writes), then flushes. */
  stop(): Promise<void>;
  stats(): EmfForwarderStats;
}

/** Values of equal datums, by value: counts. */
interface Bucket {
  readonly namespace: string;
  readonly datum: Omit<MetricDatum, 'Values' | 'Counts'>;
  readonly counts: Map<number, number>;
}

/**
 * Taps `process.stdout.write` (keeping the writer it wrapped) and forwards the EMF documents written
 * from now on to CloudWatch (`options.cloudwatch`, else `clients.cloudwatch()` built at the first
 * flush), every `flushMs` (250) and on `flush()`. Documents may arrive in chunks: only complete lines
 * are read. Nothing here throws into the writer.
 */
export function forwardEmf(options: { flushMs?: number; cloudwatch?: CloudWatchClient } = {}): EmfForwarder {
  const counters = {
    lines: 0,
    documents: 0,
    invalid: 0,
    values: 0,
    calls: 0,
    failedCalls: 0,
    published: 0,
    lost: 0,
  };
  let lastError: string | undefined;
  const pending = new Map<string, Bucket>();
  const decoder = new StringDecoder('utf8');
  let partial = '';
  /** Inside a line longer than any log event, until its newline. */
  let overlong = false;
  let active = true;
  let chain: Promise<void> = Promise.resolve();

  const take = (line: string) => {
    counters.lines += 1;
    const read = readEmf(line);
    if (read.kind === 'log') return;
    if (read.kind === 'invalid') {
      counters.invalid += 1;
      return;
    }
    counters.documents += 1;
    for (const datum of read.datums) add(pending, datum);
    for (const datum of read.datums) counters.values += datum.values.length;
  };

  const observe = (chunk: unknown, encoding: unknown) => {
    let text: string;
    if (typeof chunk === 'string')
      text =
        typeof encoding === 'string' && !/^utf-?8$/i.test(encoding)
          ? decoder.write(Buffer.from(chunk, encoding as BufferEncoding))
          : chunk;
    else if (chunk instanceof Uint8Array)
      text = decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    else return;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const line = partial + text.slice(start, end);
      partial = '';
      start = end + 1;
      if (overlong) overlong = false;
      else take(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (overlong) return;
    partial += text.slice(start);
    if (partial.length * 3 > EMF_LIMITS.lineBytes && Buffer.byteLength(partial) > EMF_LIMITS.lineBytes) {
      // Longer than any log event: CloudWatch Logs would not take it whole either. Skipped to its end.
      counters.lines += 1;
      if (partial.includes('"_aws"')) counters.invalid += 1;
      partial = '';
      overlong = true;
    }
  };

  const wrapped = process.stdout.write;
  const tap = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    if (active)
      try {
        observe(chunk, rest[0]);
      } catch (error) {
        lastError = `reading a line: ${(error as Error).message}`;
      }
    return (wrapped as (...args: unknown[]) => boolean).call(this ?? process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
  process.stdout.write = tap;

  const send = async () => {
    if (pending.size === 0) return;
    const buckets = [...pending.values()];
    pending.clear();
    const cloudwatch = options.cloudwatch ?? clients.cloudwatch();
    for (const batch of batches(buckets)) {
      counters.calls += 1;
      try {
        await cloudwatch.send(
          new PutMetricDataCommand({ Namespace: batch.namespace, MetricData: batch.data }),
        );
        counters.published += batch.values;
      } catch (error) {
        counters.failedCalls += 1;
        counters.lost += batch.values;
        lastError = `PutMetricData (${batch.namespace}, ${batch.data.length} datums): ${(error as Error).message}`;
        process.stderr.write(`emf-metrics: ${lastError}\n`);
      }
    }
  };

  const flush = () => {
    // Never rejects: a failure is reported and counted, and later flushes still run.
    chain = chain.then(send).catch((error: unknown) => {
      counters.failedCalls += 1;
      lastError = `forwarding: ${(error as Error).message}`;
      process.stderr.write(`emf-metrics: ${lastError}\n`);
    });
    return chain;
  };
  const timer = setInterval(() => void flush(), options.flushMs ?? 250);
  timer.unref();

  return {
    flush,
    async stop() {
      if (active) {
        active = false;
        clearInterval(timer);
        if (process.stdout.write === tap) process.stdout.write = wrapped;
      }
      await flush();
    },
    stats: () => ({ ...counters, lastError }),
  };
}

function add(pending: Map<string, Bucket>, datum: Datum): void {
  const bucketMs = datum.storageResolution === 1 ? 1000 : 60_000;
  const at = Math.floor(datum.timestamp / bucketMs) * bucketMs;
  const key = JSON.stringify([
    datum.namespace,
    datum.name,
    datum.dimensions,
    datum.unit,
    datum.storageResolution,
    at,
  ]);
  let bucket = pending.get(key);
  if (bucket === undefined) {
    bucket = {
      namespace: datum.namespace,
      datum: {
        MetricName: datum.name,
        Dimensions: datum.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
        Timestamp: new Date(at),
        ...(datum.unit === undefined ? {} : { Unit: datum.unit as MetricDatum['Unit'] }),
        ...(datum.storageResolution === 1 ? { StorageResolution: 1 } : {}),
      },
      counts: new Map(),
    };
    pending.set(key, bucket);
  }
  for (const value of datum.values) bucket.counts.set(value, (bucket.counts.get(value) ?? 0) + 1);
}

/** A conservative size of a datum in the request (JSON, with room for escaping). */
function sizeOf(datum: MetricDatum): number {
  return 2 * JSON.stringify(datum).length + 64;
}

/** PutMetricData calls: one namespace each, ≤ 1000 datums, ≤ 1 MB, ≤ 150 values per datum. */
function* batches(
  buckets: readonly Bucket[],
): Generator<{ namespace: string; data: MetricDatum[]; values: number }> {
  const byNamespace = new Map<string, MetricDatum[]>();
  for (const bucket of buckets) {
    const entries = [...bucket.counts];
    for (let i = 0; i < entries.length; i += EMF_LIMITS.valuesPerDatum) {
      const slice = entries.slice(i, i + EMF_LIMITS.valuesPerDatum);
      const datum: MetricDatum = {
        ...bucket.datum,
        Values: slice.map(([value]) => value),
        Counts: slice.map(([, count]) => count),
      };
      const list = byNamespace.get(bucket.namespace) ?? [];
      byNamespace.set(bucket.namespace, list);
      list.push(datum);
    }
  }
  const budget = EMF_LIMITS.bytesPerCall - 4096;
  for (const [namespace, data] of byNamespace) {
    let batch: MetricDatum[] = [];
    let bytes = 0;
    let values = 0;
    for (const datum of data) {
      const size = sizeOf(datum);
      if (batch.length > 0 && (batch.length >= EMF_LIMITS.datumsPerCall || bytes + size > budget)) {
        yield { namespace, data: batch, values };
        batch = [];
        bytes = 0;
        values = 0;
      }
      batch.push(datum);
      bytes += size;
      values += (datum.Counts ?? []).reduce((a, b) => a + b, 0);
    }
    if (batch.length > 0) yield { namespace, data: batch, values };
  }
}
