/**
 * One feature view's offline files read as a single stream sorted by (entity key, event time,
 * ingestion time), in {@link FeatureBatch}es the streaming point-in-time join takes
 * (./point-in-time-join.ts).
 *
 * Every file the ingestion writes is sorted that way already (./parquet-codec.ts, {@link SORT_ORDER}),
 * so a file is a sorted run: it is decoded one row group at a time and the runs are merged with a
 * heap (k-way merge). A file without the marker (written by another tool) is decoded whole and
 * sorted in memory first, so it costs its own size and no more. Rows with equal (entity, event time,
 * ingestion time) keep file order: of two such rows the one in the later file (the later date,
 * then the later batch id) comes later and wins the join.
 *
 * Memory: the files' compressed bytes, plus one decoded row group per file and one output batch.
 */
import type { FileMetaData } from 'hyparquet';
import { CorruptDataError } from '../shared/errors.js';
import type { FeatureView } from './feature-view.js';
import {
  decodeColumnsTyped,
  entityKeyOf,
  INGESTED_AT_COLUMN,
  isSortedFile,
  readFooter,
} from './parquet-codec.js';
import type { FeatureBatch, FeatureColumn, FeatureKind } from './point-in-time-join.js';
import { argsortByEntityThenTime } from './point-in-time-sort.js';
import type { Value } from './row-validation.js';

/** A file of the view's offline store, already fetched. */
export interface OfflineFile {
  readonly key: string;
  readonly bytes: ArrayBuffer;
  /** The file's footer, when the caller has parsed it already. */
  readonly metadata?: FileMetaData;
}

/** The join kind of a feature: strings are categorical, everything else numeric (null = NaN). */
export function featureKind(view: FeatureView, feature: string): FeatureKind {
  return view.features.find((f) => f.name === feature)?.type === 'string' ? 'categorical' : 'numeric';
}

/** Decoded rows of one file, in sorted order; a feature is a Float64Array when numeric (NaN = null). */
interface Chunk {
  readonly keys: string[];
  readonly times: Float64Array;
  readonly ingested: Float64Array;
  readonly values: (Float64Array | Value[])[];
}

/** A sorted run: one file, read a row group at a time. */
class Run {
  chunk: Chunk | undefined;
  pos = 0;
  private lastKey = '';
  private lastTime = Number.NEGATIVE_INFINITY;
  private lastIngested = Number.NEGATIVE_INFINITY;

  constructor(
    readonly index: number,
    readonly key: string,
    private readonly chunks: AsyncIterator<Chunk>,
  ) {}

  /** Moves to the next non-empty chunk; false when the file is done. */
  async advance(): Promise<boolean> {
    for (;;) {
      const next = await this.chunks.next();
      if (next.done) {
        this.chunk = undefined;
        return false;
      }
      if (next.value.keys.length > 0) {
        this.chunk = next.value;
        this.pos = 0;
        return true;
      }
    }
  }

  /** Fails when the file breaks the order its metadata promises (it would corrupt the merge). */
  check(): void {
    const chunk = this.chunk as Chunk;
    const key = chunk.keys[this.pos] as string;
    const time = chunk.times[this.pos] as number;
    const ingested = chunk.ingested[this.pos] as number;
    if (
      key < this.lastKey ||
      (key === this.lastKey &&
        (time < this.lastTime || (time === this.lastTime && ingested < this.lastIngested)))
    ) {
      throw new CorruptDataError(
        this.key,
        'must be sorted by (entity key, event time, ingested_at) as its mlops.sort_order metadata says',
      );
    }
    this.lastKey = key;
    this.lastTime = time;
    this.lastIngested = ingested;
  }
}

/** Whether run a's current row sorts before run b's (ties: the earlier file first). */
function before(a: Run, b: Run): boolean {
  const ca = a.chunk as Chunk;
  const cb = b.chunk as Chunk;
  const ka = ca.keys[a.pos] as string;
  const kb = cb.keys[b.pos] as string;
  if (ka !== kb) return ka < kb;
  const ta = ca.times[a.pos] as number;
  const tb = cb.times[b.pos] as number;
  if (ta !== tb) return ta < tb;
  const ia = ca.ingested[a.pos] as number;
  const ib = cb.ingested[b.pos] as number;
  if (ia !== ib) return ia < ib;
  return a.index < b.index;
}

/** Collects merged rows into {@link FeatureBatch}es of at most `size` rows. */
class BatchBuilder {
  private keys: string[] = [];
  private times: Float64Array;
  private numeric: Float64Array[];
  private codes: Int32Array[];
  private dictionaries: { list: string[]; codeOf: Map<string, number> }[];
  private n = 0;

  constructor(
    private readonly features: readonly string[],
    private readonly kinds: readonly FeatureKind[],
    private readonly size: number,
  ) {
    this.times = new Float64Array(size);
    this.numeric = [];
    this.codes = [];
    this.dictionaries = [];
    this.reset();
  }

  private reset(): void {
    this.keys = [];
    this.times = new Float64Array(this.size);
    this.numeric = this.kinds.map((k) =>
      k === 'numeric' ? new Float64Array(this.size) : new Float64Array(0),
    );
    this.codes = this.kinds.map((k) => (k === 'categorical' ? new Int32Array(this.size) : new Int32Array(0)));
    this.dictionaries = this.kinds.map(() => ({ list: [], codeOf: new Map() }));
    this.n = 0;
  }

  get full(): boolean {
    return this.n === this.size;
  }

  push(chunk: Chunk, row: number): void {
    const at = this.n++;
    this.keys.push(chunk.keys[row] as string);
    this.times[at] = chunk.times[row] as number;
    for (let f = 0; f < this.kinds.length; f++) {
      const column = chunk.values[f];
      if (column instanceof Float64Array) {
        (this.numeric[f] as Float64Array)[at] = column[row] as number;
        continue;
      }
      const value = (column as Value[])[row] ?? null;
      if (value === null) {
        (this.codes[f] as Int32Array)[at] = -1;
      } else {
        const dictionary = this.dictionaries[f] as { list: string[]; codeOf: Map<string, number> };
        const text = String(value);
        let code = dictionary.codeOf.get(text);
        if (code === undefined) {
          code = dictionary.list.length;
          dictionary.codeOf.set(text, code);
          dictionary.list.push(text);
        }
        (this.codes[f] as Int32Array)[at] = code;
      }
    }
  }

  take(): FeatureBatch | undefined {
    if (this.n === 0) return undefined;
    const n = this.n;
    const columns: Record<string, FeatureColumn> = {};
    this.features.forEach((name, f) => {
      columns[name] =
        this.kinds[f] === 'numeric'
          ? (this.numeric[f] as Float64Array).subarray(0, n)
          : {
              codes: (this.codes[f] as Int32Array).subarray(0, n),
              dictionary: (this.dictionaries[f] as { list: string[] }).list,
            };
    });
    const batch: FeatureBatch = { keys: this.keys, eventTimes: this.times.subarray(0, n), columns };
    this.reset();
    return batch;
  }
}

/** Decodes rows [start, end) of a file into a chunk (keys encoded, times as numbers). */
async function decodeChunk(
  view: FeatureView,
  features: readonly string[],
  bytes: ArrayBuffer,
  range: { rowStart: number; rowEnd: number; metadata: FileMetaData },
): Promise<Chunk> {
  const keyNames = view.entities.map((e) => e.name);
  const numeric = new Set([
    view.eventTimeColumn,
    INGESTED_AT_COLUMN,
    ...features.filter((f) => featureKind(view, f) === 'numeric'),
  ]);
  const decoded = await decodeColumnsTyped(
    bytes,
    [...keyNames, view.eventTimeColumn, INGESTED_AT_COLUMN, ...features],
    numeric,
    range,
  );
  const n = range.rowEnd - range.rowStart;
  // Rows of one entity sit together: encode a key once per run and share the string (which also
  // makes the merge's key comparisons identity checks).
  const keyColumns = keyNames.map((name) => decoded[name] as Value[]);
  const keys = new Array<string>(n);
  let last = '';
  for (let i = 0; i < n; i++) {
    let same = i > 0;
    for (let c = 0; same && c < keyColumns.length; c++) {
      const column = keyColumns[c] as Value[];
      same = column[i] === column[i - 1];
    }
    if (!same) last = entityKeyOf(view, (c) => (decoded[c] as Value[])[i]);
    keys[i] = last;
  }
  return {
    keys,
    times: decoded[view.eventTimeColumn] as Float64Array,
    ingested: decoded[INGESTED_AT_COLUMN] as Float64Array,
    values: features.map((f) => decoded[f] as Float64Array | Value[]),
  };
}

/**
 * The chunks of one file in sorted order (see {@link fileChunksOf}); any failure to read the file is
 * a {@link CorruptDataError} naming it.
 */
async function* fileChunks(
  view: FeatureView,
  features: readonly string[],
  file: OfflineFile,
): AsyncGenerator<Chunk> {
  try {
    yield* fileChunksOf(view, features, file);
  } catch (error) {
    if (error instanceof CorruptDataError) throw error;
    throw new CorruptDataError(file.key, `cannot be decoded (${(error as Error).message})`, { cause: error });
  }
}

/** The chunks of one file in sorted order: row groups as they are, or the whole file sorted. */
async function* fileChunksOf(
  view: FeatureView,
  features: readonly string[],
  file: OfflineFile,
): AsyncGenerator<Chunk> {
  const metadata = file.metadata ?? readFooter(file.key, file.bytes);
  const present = new Set(metadata.schema.map((element) => element.name));
  for (const column of [...view.entities.map((e) => e.name), view.eventTimeColumn]) {
    if (!present.has(column))
      throw new CorruptDataError(file.key, `must hold the column ${column} of view ${view.name}`);
  }
  if (isSortedFile(metadata)) {
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      yield await decodeChunk(view, features, file.bytes, { rowStart: start, rowEnd: end, metadata });
      start = end;
    }
    return;
  }
  const whole = await decodeChunk(view, features, file.bytes, {
    rowStart: 0,
    rowEnd: Number(metadata.num_rows),
    metadata,
  });
  const order = argsortByEntityThenTime(whole.keys, whole.times, whole.ingested);
  yield {
    keys: Array.from(order, (i) => whole.keys[i] as string),
    times: Float64Array.from(order, (i) => whole.times[i] as number),
    ingested: Float64Array.from(order, (i) => whole.ingested[i] as number),
    values: whole.values.map((column) =>
      column instanceof Float64Array
        ? Float64Array.from(order, (i) => column[i] as number)
        : Array.from(order, (i) => column[i] ?? null),
    ),
  };
}

/**
 * Streams the rows of `files` (all of one view) merged into batches sorted by (entity key, event
 * time, ingestion time, file order), with the named features as join columns.
 */
export async function* scanSorted(
  view: FeatureView,
  features: readonly string[],
  files: readonly OfflineFile[],
  batchSize = 65_536,
): AsyncGenerator<FeatureBatch> {
  const builder = new BatchBuilder(
    features,
    features.map((f) => featureKind(view, f)),
    batchSize,
  );
  // Min-heap of runs by their current row.
  const heap: Run[] = [];
  for (const [index, file] of files.entries()) {
    const run = new Run(index, file.key, fileChunks(view, features, file));
    if (await run.advance()) {
      run.check();
      heap.push(run);
      siftUp(heap, heap.length - 1);
    }
  }
  while (heap.length > 0) {
    const run = heap[0] as Run;
    // Emit from the smallest run while it stays at or below the next smallest (a whole entity's
    // rows of one file usually go in one stretch).
    const second =
      heap.length === 1
        ? undefined
        : heap.length === 2 || before(heap[1] as Run, heap[2] as Run)
          ? (heap[1] as Run)
          : (heap[2] as Run);
    for (;;) {
      builder.push(run.chunk as Chunk, run.pos);
      if (builder.full) yield builder.take() as FeatureBatch;
      run.pos++;
      if (run.pos === (run.chunk as Chunk).keys.length && !(await run.advance())) break;
      run.check();
      if (second !== undefined && !before(run, second)) break;
    }
    if (run.chunk === undefined) {
      const last = heap.pop() as Run;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown(heap, 0);
      }
    } else {
      siftDown(heap, 0);
    }
  }
  const rest = builder.take();
  if (rest !== undefined) yield rest;
}

function siftUp(heap: Run[], i: number): void {
  let at = i;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!before(heap[at] as Run, heap[parent] as Run)) return;
    [heap[at], heap[parent]] = [heap[parent] as Run, heap[at] as Run];
    at = parent;
  }
}

function siftDown(heap: Run[], i: number): void {
  let at = i;
  for (;;) {
    const left = 2 * at + 1;
    const right = left + 1;
    let least = at;
    if (left < heap.length && before(heap[left] as Run, heap[least] as Run)) least = left;
    if (right < heap.length && before(heap[right] as Run, heap[least] as Run)) least = right;
    if (least === at) return;
    [heap[at], heap[least]] = [heap[least] as Run, heap[at] as Run];
    at = least;
  }
}
