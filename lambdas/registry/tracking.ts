/**
 * Experiment tracking's data model and rules: names, run statuses and their legal moves, metric
 * batches (validation, grouping, how points are chunked), metric summaries, search filters and the
 * compare table. Plain code: no AWS SDK, so the tracking store, the Lambdas and the CLI share it.
 *
 * | from \ to | RUNNING | FINISHED | FAILED | KILLED |
 * |-----------|---------|----------|--------|--------|
 * | RUNNING   |    -    |   yes    |  yes   |  yes   |
 * | FINISHED, FAILED, KILLED: final (nothing moves out of them)  |
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';
import { canonicalJson } from './model-version.js';

export const RUN_STATUSES = ['RUNNING', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses a run ends in; each is final. */
export const TERMINAL_STATUSES = ['FINISHED', 'FAILED', 'KILLED'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Most points in one `logMetrics` call. */
export const MAX_POINTS_PER_BATCH = 1000;
/**
 * Most distinct metric keys in one `logMetrics` call: a batch is one transaction of the run item,
 * the batch record and two items per key (summary, chunk), under DynamoDB's 100 items.
 */
export const MAX_KEYS_PER_BATCH = 40;
/**
 * Most points in one chunk item. A chunk stores its points packed as little-endian float64 triples
 * (step, value, timestamp): 24 bytes a point, so a full chunk is 24,000 bytes of points, far under
 * DynamoDB's 409,600-byte item limit, and a full batch of 1000 points fills one new chunk with one
 * write. Smaller batches are appended to the metric's last chunk until it holds this many (an
 * append rewrites that chunk, at most 24 KB), so even one point per call never makes an item per point.
 */
export const TRACKING_CHUNK_POINTS = 1000;
/** Bytes of one packed point: step, value and timestamp as float64 (steps and times are safe integers). */
export const CHUNK_POINT_BYTES = 24;

const EXPERIMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const EXPERIMENT_RULE = 'must be 1-128 of A-Z a-z 0-9 _ . -, starting with a letter or digit';
const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const RUN_ID_RULE = 'must be 1-64 of A-Z a-z 0-9 _ -';
/** Metric, param and tag keys: the registry's rule for metric names (no `#`, so keys stay unambiguous). */
const KEY_PATTERN = /^[A-Za-z0-9_.:/-]{1,128}$/;
const keyRule = (what: string) => `${what} names must be 1-128 of A-Z a-z 0-9 _ . : / -`;

export const experimentNameSchema = z
  .string({ error: 'must be a string' })
  .regex(EXPERIMENT_PATTERN, EXPERIMENT_RULE);
export const runIdSchema = z.string({ error: 'must be a string' }).regex(RUN_ID_PATTERN, RUN_ID_RULE);

const paramValue = z.union(
  [z.string().max(4096, 'must be at most 4096 characters'), z.number().finite(), z.boolean()],
  { error: 'must be a string (at most 4096 characters), a finite number or a boolean' },
);
export const paramsSchema = z
  .record(z.string().regex(KEY_PATTERN, keyRule('param')), paramValue)
  .refine((p) => Object.keys(p).length <= 500, 'must hold at most 500 params');
export const tagsSchema = z
  .record(
    z.string().regex(KEY_PATTERN, keyRule('tag')),
    z.string({ error: 'must be a string' }).max(256, 'must be at most 256 characters'),
  )
  .refine((t) => Object.keys(t).length <= 50, 'must hold at most 50 tags per call');

export type RunParams = z.output<typeof paramsSchema>;
export type RunTags = z.output<typeof tagsSchema>;

export const createExperimentSchema = z.strictObject({
  name: experimentNameSchema,
  description: z
    .string({ error: 'must be a string' })
    .max(4096, 'must be at most 4096 characters')
    .default(''),
  tags: tagsSchema.default({}),
});
export type CreateExperimentInput = z.input<typeof createExperimentSchema>;

export const createRunSchema = z.strictObject({
  experiment: experimentNameSchema,
  /**
   * The run's id. Given, creation is idempotent (the same request again returns the run; another
   * request with the id is a ConflictError); absent, a random one.
   */
  runId: runIdSchema.optional(),
  name: z.string({ error: 'must be a string' }).max(256, 'must be at most 256 characters').default(''),
  parentRunId: runIdSchema.optional(),
  params: paramsSchema.default({}),
  tags: tagsSchema.default({}),
  /** Start time, epoch ms. @default now */
  startTime: z
    .number()
    .int('must be epoch milliseconds')
    .nonnegative('must be epoch milliseconds')
    .optional(),
});
export type CreateRunInput = z.input<typeof createRunSchema>;
export type CreateRunRequest = z.output<typeof createRunSchema>;

export const endRunSchema = z.strictObject({
  status: z.enum(TERMINAL_STATUSES, { error: `must be one of ${TERMINAL_STATUSES.join(', ')}` }),
  /** Why the run failed or was killed (required for FAILED). */
  reason: z
    .string({ error: 'must be a string' })
    .trim()
    .max(4096, 'must be at most 4096 characters')
    .optional(),
  /** End time, epoch ms. @default now */
  endTime: z.number().int('must be epoch milliseconds').nonnegative('must be epoch milliseconds').optional(),
});
export type EndRunInput = z.input<typeof endRunSchema>;

/** Validates an end-of-run request: FAILED needs a reason; FINISHED takes none. */
export function parseEndRun(input: unknown): z.output<typeof endRunSchema> {
  const request = parseOrThrow(endRunSchema, input);
  if (request.status === 'FAILED' && !request.reason)
    throw new ValidationError('reason', 'must say why the run failed (FAILED needs a reason)');
  if (request.status === 'FINISHED' && request.reason !== undefined)
    throw new ValidationError('reason', 'only a FAILED or KILLED run has a reason');
  return request;
}

/** Throws on `field` unless a run in `from` may move to `to` (only RUNNING moves; each end is final). */
export function assertStatusMove(runId: string, from: RunStatus, to: TerminalStatus, field = 'status'): void {
  if (from !== 'RUNNING')
    throw new ValidationError(field, `run ${runId} is ${from}, a final status; it cannot become ${to}`);
}

/** Throws unless the run still takes metrics, params and artifacts (it is RUNNING). */
export function assertRunning(runId: string, status: RunStatus, field = 'runId'): void {
  if (status !== 'RUNNING')
    throw new ValidationError(
      field,
      `must name a RUNNING run (run ${runId} is ${status}; nothing more is logged to it)`,
    );
}

/** One logged metric point. */
export interface MetricPoint {
  readonly key: string;
  readonly value: number;
  /** Training step (an integer). @default 0 */
  readonly step: number;
  /** When it was measured, epoch ms. */
  readonly timestamp: number;
}

/**
 * Validates a batch of points, naming the index and field of the first bad one
 * (`points.3.value: must be a finite number (got NaN)`).
 */
export function parseMetricBatch(input: unknown): MetricPoint[] {
  if (!Array.isArray(input)) throw new ValidationError('points', 'must be an array of metric points');
  if (input.length === 0) throw new ValidationError('points', 'must hold at least one point');
  if (input.length > MAX_POINTS_PER_BATCH)
    throw new ValidationError(
      'points',
      `must hold at most ${MAX_POINTS_PER_BATCH} points (got ${input.length}); split the batch`,
    );
  const keys = new Set<string>();
  const points = input.map((raw, i): MetricPoint => {
    const at = (field: string) => `points.${i}.${field}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new ValidationError(`points.${i}`, 'must be an object { key, value, step, timestamp }');
    const { key, value, step = 0, timestamp, ...rest } = raw as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new ValidationError(at(unknown), 'is not a known field');
    if (typeof key !== 'string' || !KEY_PATTERN.test(key))
      throw new ValidationError(at('key'), keyRule('metric'));
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new ValidationError(at('value'), `must be a finite number (got ${describe(value)})`);
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)
      throw new ValidationError(at('step'), `must be a non-negative integer (got ${describe(step)})`);
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new ValidationError(at('timestamp'), `must be epoch milliseconds (got ${describe(timestamp)})`);
    keys.add(key);
    return { key, value: value === 0 ? 0 : value, step, timestamp };
  });
  if (keys.size > MAX_KEYS_PER_BATCH)
    throw new ValidationError(
      'points',
      `must hold at most ${MAX_KEYS_PER_BATCH} distinct metric keys (got ${keys.size}); split the batch by key`,
    );
  return points;
}

const describe = (value: unknown): string =>
  typeof value === 'number' ? String(value) : value === undefined ? 'nothing' : typeof value;

/** A batch's id when the caller gives none: derived from its points, so a retried batch has the same id. */
export function batchFingerprint(points: readonly MetricPoint[]): string {
  return createHashHex(canonicalJson(points));
}

const createHashHex = (text: string): string => createHash('sha256').update(text).digest('hex');

export const batchIdSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 _ . : -');

/** Latest, min and max of one metric of a run (latest = the point with the highest step, then time). */
export interface MetricSummary {
  readonly latest: number;
  readonly step: number;
  readonly timestamp: number;
  readonly min: number;
  readonly max: number;
  /** Points logged. */
  readonly count: number;
}

/** The summary after `points` (all of one key) join `previous`. */
export function mergeSummary(
  previous: MetricSummary | undefined,
  points: readonly MetricPoint[],
): MetricSummary {
  let summary = previous;
  for (const p of points) {
    if (summary === undefined) {
      summary = {
        latest: p.value,
        step: p.step,
        timestamp: p.timestamp,
        min: p.value,
        max: p.value,
        count: 1,
      };
      continue;
    }
    const later = p.step > summary.step || (p.step === summary.step && p.timestamp >= summary.timestamp);
    summary = {
      latest: later ? p.value : summary.latest,
      step: later ? p.step : summary.step,
      timestamp: later ? p.timestamp : summary.timestamp,
      min: Math.min(summary.min, p.value),
      max: Math.max(summary.max, p.value),
      count: summary.count + 1,
    };
  }
  if (summary === undefined) throw new ValidationError('points', 'must hold at least one point');
  return summary;
}

/** Points grouped by key, in the order each key first appears. */
export function groupByKey(points: readonly MetricPoint[]): Map<string, MetricPoint[]> {
  const groups = new Map<string, MetricPoint[]>();
  for (const p of points) {
    const group = groups.get(p.key);
    if (group) group.push(p);
    else groups.set(p.key, [p]);
  }
  return groups;
}

/** Where a metric's chunks stand: how many there are and how many points the last one holds. */
export interface ChunkState {
  readonly chunks: number;
  readonly lastChunkPoints: number;
}

/**
 * Where `n` new points of one metric go: appended to the last chunk while it stays within
 * {@link TRACKING_CHUNK_POINTS}, else a new chunk (numbered from 1). Never one item per point.
 */
export function placePoints(
  state: ChunkState,
  n: number,
): { chunk: number; append: boolean; after: ChunkState } {
  if (n < 1 || n > MAX_POINTS_PER_BATCH) throw new RangeError(`cannot place ${n} points`);
  if (state.chunks > 0 && state.lastChunkPoints + n <= TRACKING_CHUNK_POINTS)
    return {
      chunk: state.chunks,
      append: true,
      after: { chunks: state.chunks, lastChunkPoints: state.lastChunkPoints + n },
    };
  return { chunk: state.chunks + 1, append: false, after: { chunks: state.chunks + 1, lastChunkPoints: n } };
}

/** Packs points (all of one key) as a chunk stores them: (step, value, timestamp) float64 triples, little endian. */
export function encodeChunk(
  points: readonly MetricPoint[],
  before: Uint8Array = new Uint8Array(),
): Uint8Array {
  if (before.byteLength % CHUNK_POINT_BYTES !== 0) throw new RangeError('a chunk holds whole points');
  const bytes = new Uint8Array(before.byteLength + points.length * CHUNK_POINT_BYTES);
  bytes.set(before);
  const view = new DataView(bytes.buffer, before.byteLength);
  points.forEach((p, i) => {
    view.setFloat64(i * CHUNK_POINT_BYTES, p.step, true);
    view.setFloat64(i * CHUNK_POINT_BYTES + 8, p.value, true);
    view.setFloat64(i * CHUNK_POINT_BYTES + 16, p.timestamp, true);
  });
  return bytes;
}

/** The points of a chunk, in the order they were logged. */
export function decodeChunk(key: string, bytes: Uint8Array): MetricPoint[] {
  if (bytes.byteLength % CHUNK_POINT_BYTES !== 0)
    throw new RangeError(`a chunk of ${key} holds a partial point`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const points: MetricPoint[] = [];
  for (let at = 0; at < bytes.byteLength; at += CHUNK_POINT_BYTES)
    points.push({
      key,
      step: view.getFloat64(at, true),
      value: view.getFloat64(at + 8, true),
      timestamp: view.getFloat64(at + 16, true),
    });
  return points;
}

/** A metric's history from its chunks (in chunk order): ordered by step, then timestamp, then arrival. */
export function historyFromChunks(key: string, chunks: readonly Uint8Array[]): MetricPoint[] {
  const points = chunks.flatMap((c) => decodeChunk(key, c));
  // Array.prototype.sort is stable: equal (step, timestamp) keep their logging order.
  return points.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
}

/** A run as the tracking store returns it. */
export interface TrackedRun {
  readonly runId: string;
  readonly experiment: string;
  readonly name: string;
  readonly status: RunStatus;
  /** Epoch ms. */
  readonly startTime: number;
  readonly endTime?: number;
  /** Why it FAILED or was KILLED. */
  readonly reason?: string;
  readonly parentRunId?: string;
  readonly params: RunParams;
  readonly tags: RunTags;
  /** Latest/min/max of every metric logged. */
  readonly metrics: Record<string, MetricSummary>;
  /** Where its artifacts go: `runs/<experiment>/<runId>/`. */
  readonly artifactPrefix: string;
  /** Model versions registered with this run as their lineage run id, `<model>:<version>`, sorted. */
  readonly registeredVersions: string[];
}

export interface Experiment {
  readonly name: string;
  readonly description: string;
  readonly tags: RunTags;
  readonly createdAt: string;
}

/** The string a registered version is recorded by on its run: `<model>:<version>`. */
export const registeredVersionRef = (modelName: string, version: number): string => `${modelName}:${version}`;

/** Search filter on one metric's latest value: `val_auc > 0.8`. `!=` cannot be answered by a key range. */
export const FILTER_OPS = ['>', '>=', '<', '<=', '='] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
export interface MetricFilter {
  readonly metric: string;
  readonly op: FilterOp;
  readonly value: number;
}

/** Parses `metric op number` (`val_auc > 0.8`, `metrics.loss <= 0.1`). */
export function parseMetricFilter(text: unknown, field = 'filter'): MetricFilter {
  if (typeof text !== 'string') throw new ValidationError(field, 'must be a string like "val_auc > 0.8"');
  const match = /^\s*(?:metrics\.)?([A-Za-z0-9_.:/-]{1,128})\s*(>=|<=|>|<|==|=)\s*(\S+)\s*$/.exec(text);
  if (!match)
    throw new ValidationError(
      field,
      `must be "<metric> <op> <number>" with op one of ${FILTER_OPS.join(' ')} (got "${text}")`,
    );
  const value = Number(match[3]);
  if (match[3] === '' || !Number.isFinite(value))
    throw new ValidationError(field, `must compare with a finite number (got ${match[3]})`);
  const op = (match[2] === '==' ? '=' : match[2]) as FilterOp;
  return { metric: match[1] as string, op, value: value === 0 ? 0 : value };
}

export interface MetricOrder {
  readonly metric: string;
  readonly descending: boolean;
}

/** Parses `val_auc`, `val_auc DESC` or `metrics.loss ASC`. */
export function parseMetricOrder(text: unknown, field = 'orderBy'): MetricOrder {
  if (typeof text !== 'string') throw new ValidationError(field, 'must be a string like "val_auc DESC"');
  const match = /^\s*(?:metrics\.)?([A-Za-z0-9_.:/-]{1,128})(?:\s+(ASC|DESC))?\s*$/i.exec(text);
  if (!match) throw new ValidationError(field, `must be "<metric> [ASC|DESC]" (got "${text}")`);
  return { metric: match[1] as string, descending: match[2]?.toUpperCase() === 'DESC' };
}

/** Validates a page size. */
export function parseLimit(input: unknown, max = 100, field = 'limit'): number {
  const limit = input ?? 50;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > max)
    throw new ValidationError(field, `must be an integer from 1 to ${max}`);
  return limit;
}

/** One row of a comparison: a run and the params and metrics asked for (absent ones undefined). */
export interface ComparisonRow {
  readonly runId: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly params: Record<string, string | number | boolean | undefined>;
  readonly metrics: Record<string, number | undefined>;
}

export interface RunComparison {
  /** Every param any of the runs has, sorted. */
  readonly params: string[];
  /** The metrics asked for, or every metric any run has, sorted. */
  readonly metrics: string[];
  readonly rows: ComparisonRow[];
}

/** Runs × params/metrics (each metric's latest value), in the order the runs were given. */
export function compareTable(runs: readonly TrackedRun[], metrics?: readonly string[]): RunComparison {
  const params = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metricNames = metrics
    ? [...metrics]
    : [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  return {
    params,
    metrics: metricNames,
    rows: runs.map((r) => ({
      runId: r.runId,
      name: r.name,
      status: r.status,
      params: Object.fromEntries(params.map((p) => [p, r.params[p]])),
      metrics: Object.fromEntries(metricNames.map((m) => [m, r.metrics[m]?.latest])),
    })),
  };
}

/** Validates the run ids of a comparison (1-100, no repeats) and the metric names. */
export function parseCompare(runIds: unknown, metrics: unknown): { runIds: string[]; metrics?: string[] } {
  const ids = parseOrThrow(
    z
      .array(runIdSchema)
      .min(1, 'must name at least one run')
      .max(100, 'must name at most 100 runs')
      .refine((a) => new Set(a).size === a.length, 'must not name a run twice'),
    runIds,
    'runIds',
  );
  if (metrics === undefined) return { runIds: ids };
  const names = parseOrThrow(
    z.array(z.string().regex(KEY_PATTERN, keyRule('metric'))).min(1, 'must name at least one metric'),
    metrics,
    'metrics',
  );
  return { runIds: ids, metrics: names };
}

/** A path under a run's artifact prefix: relative, segments of A-Z a-z 0-9 _ . -, no `.` or `..`. */
export function parseArtifactPath(input: unknown, field = 'path'): string {
  const rule =
    'must be a relative path of segments of A-Z a-z 0-9 _ . - (no . or .. segments), at most 512 characters';
  if (typeof input !== 'string' || input.length === 0 || input.length > 512)
    throw new ValidationError(field, rule);
  const segments = input.split('/');
  if (segments.some((s) => !/^[A-Za-z0-9_.-]+$/.test(s) || s === '.' || s === '..'))
    throw new ValidationError(field, rule);
  return input;
}
