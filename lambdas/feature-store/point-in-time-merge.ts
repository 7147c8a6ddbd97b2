/**
 * The merge at the heart of the point-in-time join (./point-in-time-join.ts), for one feature view:
 * feature batches are pushed in stream order and walked once alongside the sorted labels. Holds the
 * labels' outputs plus O(1) state per view (the current entity, its last row's values carried across
 * a batch boundary) and scratch arrays of at most one entry per label.
 */
import { ValidationError } from '../shared/errors.js';
import type { CategoricalColumn, FeatureBatch, FeatureKind, ViewResult } from './point-in-time-join.js';
import { keyCount, type SortedLabels } from './point-in-time-sort.js';

/** Candidate row markers: a row of the current batch is ≥ 0. */
const CARRIED = -1;
const NONE = -2;
const MAX = Number.MAX_VALUE;

interface NumericOutput {
  readonly name: string;
  readonly out: Float64Array;
  carried: number;
  source: Float64Array | undefined;
}

interface CategoricalOutput {
  readonly name: string;
  readonly out: Int32Array;
  readonly dictionary: string[];
  readonly codeOf: Map<string, number>;
  carried: number;
  source: CategoricalColumn | undefined;
  /** Batch code → output code; -2 until resolved. */
  remap: Int32Array;
}

export interface MergeSpec {
  readonly name: string;
  readonly ttlMs: number;
  readonly features: Readonly<Record<string, FeatureKind>>;
  readonly eventTimes: boolean;
}

export class ViewMerge {
  private readonly field: string;
  private readonly found: Uint8Array;
  private readonly usedTimes: Float64Array | undefined;
  private readonly numeric: NumericOutput[] = [];
  private readonly categorical: CategoricalOutput[] = [];
  private readonly done: Uint8Array;
  // Labels answered in the current batch: sorted label position, candidate row, its event time.
  private readonly emittedAt: Int32Array;
  private readonly emittedRow: Int32Array;
  private readonly emittedTime: Float64Array;
  private emitted = 0;
  // The entity being merged.
  private key: string | undefined;
  private next = 0;
  private end = 0;
  private candidate = NONE;
  private candidateTime = Number.NaN;
  private previousTime = -MAX;
  private batches = 0;

  constructor(
    private readonly labels: SortedLabels,
    private readonly spec: MergeSpec,
  ) {
    const n = labels.order.length;
    this.field = `views.${spec.name}.batches`;
    this.found = new Uint8Array(n);
    this.usedTimes = spec.eventTimes ? new Float64Array(n).fill(Number.NaN) : undefined;
    this.done = new Uint8Array(labels.codeOf.size);
    this.emittedAt = new Int32Array(n);
    this.emittedRow = new Int32Array(n);
    this.emittedTime = new Float64Array(n);
    for (const [name, kind] of Object.entries(spec.features)) {
      if (kind === 'numeric')
        this.numeric.push({
          name,
          out: new Float64Array(n).fill(Number.NaN),
          carried: Number.NaN,
          source: undefined,
        });
      else
        this.categorical.push({
          name,
          out: new Int32Array(n).fill(-1),
          dictionary: [],
          codeOf: new Map(),
          carried: -1,
          source: undefined,
          remap: new Int32Array(0),
        });
    }
  }

  /** Merges the next batch of the view's stream. */
  push(batch: FeatureBatch): void {
    const b = this.batches++;
    const times = batch.eventTimes;
    const len = times.length;
    if (!(times instanceof Float64Array))
      throw new ValidationError(`${this.field}.${b}.eventTimes`, 'must be a Float64Array');
    if (keyCount(batch.keys) !== len)
      throw new ValidationError(`${this.field}.${b}.keys`, `must hold one key per row (${len})`);
    this.bindColumns(batch, b, len);
    const strings = Array.isArray(batch.keys) ? (batch.keys as readonly string[]) : undefined;
    const coded =
      strings === undefined ? (batch.keys as Exclude<typeof batch.keys, readonly string[]>) : undefined;
    let i = 0;
    while (i < len) {
      let j = i + 1;
      let key: unknown;
      if (strings !== undefined) {
        key = strings[i];
        while (j < len && strings[j] === key) j++;
      } else if (coded !== undefined) {
        const code = coded.codes[i] as number;
        key = coded.dictionary[code];
        while (j < len && coded.codes[j] === code) j++;
      }
      if (typeof key !== 'string')
        throw new ValidationError(`${this.field}.${b}.keys.${i}`, 'must be a string');
      if (key !== this.key) this.openEntity(key, b, i);
      this.mergeRun(times, i, j, b);
      i = j;
    }
    this.gather();
    // The entity may continue in the next batch: keep its latest row's values, not the batch.
    if (this.candidate >= 0) {
      if (this.next < this.end) {
        const row = this.candidate;
        for (const f of this.numeric) f.carried = (f.source as Float64Array)[row] as number;
        for (const f of this.categorical) f.carried = this.resolve(f, row);
        this.candidate = CARRIED;
      } else this.candidate = NONE; // no label of this entity is left to answer
    }
  }

  /** Ends the stream and returns the view's columns, in the labels' original order. */
  finish(): ViewResult {
    this.closeEntity();
    this.gather();
    const features: Record<string, Float64Array | CategoricalColumn> = {};
    for (const f of this.numeric) features[f.name] = f.out;
    for (const f of this.categorical) features[f.name] = { codes: f.out, dictionary: f.dictionary };
    return this.usedTimes === undefined
      ? { found: this.found, features }
      : { found: this.found, eventTimes: this.usedTimes, features };
  }

  private bindColumns(batch: FeatureBatch, b: number, len: number): void {
    for (const f of this.numeric) {
      const column = batch.columns[f.name];
      if (!(column instanceof Float64Array) || column.length !== len)
        throw new ValidationError(
          `${this.field}.${b}.columns.${f.name}`,
          `must be a Float64Array of ${len} values`,
        );
      f.source = column;
    }
    for (const f of this.categorical) {
      const column = batch.columns[f.name];
      if (
        column === undefined ||
        column instanceof Float64Array ||
        !(column.codes instanceof Int32Array) ||
        column.codes.length !== len ||
        !Array.isArray(column.dictionary)
      )
        throw new ValidationError(
          `${this.field}.${b}.columns.${f.name}`,
          `must be categorical: Int32Array codes of ${len} values and a dictionary`,
        );
      f.source = column;
      f.remap = new Int32Array(column.dictionary.length).fill(-2);
    }
  }

  /** Output code of the batch row's category (-1 for null), interning it on first sight. */
  private resolve(f: CategoricalOutput, row: number): number {
    const source = f.source as CategoricalColumn;
    const code = source.codes[row] as number;
    if (code < 0) return -1;
    const known = f.remap[code];
    if (known !== undefined && known !== -2) return known;
    const value = source.dictionary[code];
    if (typeof value !== 'string')
      throw new ValidationError(
        `${this.field}.${this.batches - 1}.columns.${f.name}`,
        'codes must index the dictionary',
      );
    let out = f.codeOf.get(value);
    if (out === undefined) {
      out = f.dictionary.length;
      f.dictionary.push(value);
      f.codeOf.set(value, out);
    }
    f.remap[code] = out;
    return out;
  }

  private openEntity(key: string, b: number, row: number): void {
    this.closeEntity();
    this.key = key;
    this.candidate = NONE;
    this.candidateTime = Number.NaN;
    this.previousTime = -MAX;
    const code = this.labels.codeOf.get(key);
    if (code === undefined) {
      this.next = this.end = 0;
      return;
    }
    if (this.done[code] === 1)
      throw new ValidationError(
        this.field,
        'must be sorted by (entity, eventTime)',
        `${this.field}: must be sorted by (entity, eventTime); entity ${JSON.stringify(key)} appears again at batch ${b} row ${row} after other entities`,
      );
    this.done[code] = 1;
    this.next = this.labels.starts[code] as number;
    this.end = this.labels.starts[code + 1] as number;
  }

  /** Answers the entity's remaining labels with its latest row. */
  private closeEntity(): void {
    const times = this.labels.times;
    const ttl = this.spec.ttlMs;
    for (let p = this.next; p < this.end; p++) {
      if ((times[p] as number) - this.candidateTime <= ttl) this.emit(p);
    }
    this.next = this.end;
  }

  private emit(position: number): void {
    const k = this.emitted++;
    this.emittedAt[k] = position;
    this.emittedRow[k] = this.candidate;
    this.emittedTime[k] = this.candidateTime;
  }

  /** Walks rows [from, to) of one entity: the hot loop. */
  private mergeRun(times: Float64Array, from: number, to: number, b: number): void {
    let previous = this.previousTime;
    let next = this.next;
    const end = this.end;
    if (next < end) {
      const labelTimes = this.labels.times;
      const ttl = this.spec.ttlMs;
      const { emittedAt, emittedRow, emittedTime } = this;
      let k = this.emitted;
      let candidate = this.candidate;
      let candidateTime = this.candidateTime;
      for (let r = from; r < to; r++) {
        const t = times[r] as number;
        if (!(t >= previous && t <= MAX)) this.reject(t, b, r);
        previous = t;
        // Every label earlier than this row is answered by the rows before it.
        while (next < end) {
          const labelTime = labelTimes[next] as number;
          if (labelTime >= t) break;
          if (labelTime - candidateTime <= ttl) {
            emittedAt[k] = next;
            emittedRow[k] = candidate;
            emittedTime[k] = candidateTime;
            k++;
          }
          next++;
        }
        candidate = r;
        candidateTime = t;
      }
      this.emitted = k;
      this.next = next;
      this.candidate = candidate;
      this.candidateTime = candidateTime;
    } else {
      for (let r = from; r < to; r++) {
        const t = times[r] as number;
        if (!(t >= previous && t <= MAX)) this.reject(t, b, r);
        previous = t;
      }
    }
    this.previousTime = previous;
  }

  private reject(t: number, b: number, row: number): never {
    if (!(t >= -MAX && t <= MAX))
      throw new ValidationError(`${this.field}.${b}.eventTimes.${row}`, 'must be a finite time (epoch ms)');
    throw new ValidationError(
      this.field,
      'must be sorted by (entity, eventTime)',
      `${this.field}: must be sorted by (entity, eventTime); event time goes back within entity ${JSON.stringify(this.key)} at batch ${b} row ${row}`,
    );
  }

  /** Copies the answers found in this batch into the output columns. */
  private gather(): void {
    const k = this.emitted;
    if (k === 0) return;
    const order = this.labels.order;
    const { emittedAt, emittedRow, emittedTime, found, usedTimes } = this;
    for (let q = 0; q < k; q++) {
      const label = order[emittedAt[q] as number] as number;
      emittedAt[q] = label;
      found[label] = 1;
      if (usedTimes !== undefined) usedTimes[label] = emittedTime[q] as number;
    }
    for (const f of this.numeric) {
      const { out, carried } = f;
      const source = f.source as Float64Array;
      for (let q = 0; q < k; q++) {
        const row = emittedRow[q] as number;
        out[emittedAt[q] as number] = row >= 0 ? (source[row] as number) : carried;
      }
    }
    for (const f of this.categorical) {
      for (let q = 0; q < k; q++) {
        const row = emittedRow[q] as number;
        f.out[emittedAt[q] as number] = row >= 0 ? this.resolve(f, row) : f.carried;
      }
    }
    this.emitted = 0;
  }
}
