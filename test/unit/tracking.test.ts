import { describe, expect, it } from 'vitest';
import {
  CHUNK_POINT_BYTES,
  decodeChunk,
  encodeChunk,
  historyFromChunks,
  MAX_POINTS_PER_BATCH,
  mergeSummary,
  parseEndRun,
  parseMetricBatch,
  parseMetricFilter,
  placePoints,
  TRACKING_CHUNK_POINTS,
} from '../../lambdas/registry/tracking.js';
import { DYNAMODB_ITEM_LIMIT_BYTES, itemSize } from '../../lambdas/shared/item-size.js';
import { metricChunkSk, runPk } from '../../lambdas/shared/layout.js';

const p = (step: number, value: number, timestamp = 1_700_000_000_000 + step) => ({
  key: 'loss',
  step,
  value,
  timestamp,
});

describe('metric chunks', () => {
  it('round-trips points exactly, appended to what a chunk held', () => {
    const first = [p(0, 0.1), p(1, -Number.MAX_VALUE)];
    const bytes = encodeChunk([p(2, Number.MIN_VALUE)], encodeChunk(first));
    expect(bytes.byteLength).toBe(3 * CHUNK_POINT_BYTES);
    expect(decodeChunk('loss', bytes)).toEqual([...first, p(2, Number.MIN_VALUE)]);
  });

  it('keeps a full chunk item far under the DynamoDB item limit', () => {
    const key = 'k'.repeat(128);
    const points = Array.from({ length: TRACKING_CHUNK_POINTS }, (_, i) => ({ ...p(i, Math.PI), key }));
    const item = {
      pk: runPk('r'.repeat(64)),
      sk: metricChunkSk(key, 9_999_999_999),
      key,
      pointCount: TRACKING_CHUNK_POINTS,
      points: encodeChunk(points),
    };
    expect(itemSize(item).total).toBeLessThan(DYNAMODB_ITEM_LIMIT_BYTES / 10);
  });

  it('appends to the last chunk while it has room, else starts the next', () => {
    expect(placePoints({ chunks: 0, lastChunkPoints: 0 }, 1)).toEqual({
      chunk: 1,
      append: false,
      after: { chunks: 1, lastChunkPoints: 1 },
    });
    expect(placePoints({ chunks: 3, lastChunkPoints: 999 }, 1)).toMatchObject({ chunk: 3, append: true });
    expect(placePoints({ chunks: 3, lastChunkPoints: 999 }, 2)).toEqual({
      chunk: 4,
      append: false,
      after: { chunks: 4, lastChunkPoints: 2 },
    });
    expect(placePoints({ chunks: 3, lastChunkPoints: 1 }, MAX_POINTS_PER_BATCH)).toMatchObject({
      chunk: 4,
      append: false,
    });
  });

  it('reads history in step order, then time, then logging order', () => {
    const chunks = [encodeChunk([p(5, 1), p(1, 2, 10)]), encodeChunk([p(1, 3, 5), p(1, 4, 10)])];
    expect(historyFromChunks('loss', chunks).map((x) => x.value)).toEqual([3, 2, 4, 1]);
  });
});

describe('metric batches', () => {
  it('names the index and field of a non-finite value', () => {
    expect(() => parseMetricBatch([p(0, 1), p(1, Number.POSITIVE_INFINITY)])).toThrow(
      'points.1.value: must be a finite number (got Infinity)',
    );
    expect(() => parseMetricBatch([{ ...p(0, 1), step: -1 }])).toThrow(/^points\.0\.step: /);
    expect(() => parseMetricBatch([{ ...p(0, 1), key: 'a#b' }])).toThrow(/^points\.0\.key: /);
    expect(() => parseMetricBatch([{ ...p(0, 1), extra: 1 }])).toThrow(
      'points.0.extra: is not a known field',
    );
  });

  it('summarizes latest by step then time, with min, max and count', () => {
    expect(mergeSummary(undefined, [p(3, 0.5), p(1, 0.9), p(3, 0.4, 1)])).toEqual({
      latest: 0.5,
      step: 3,
      timestamp: p(3, 0).timestamp,
      min: 0.4,
      max: 0.9,
      count: 3,
    });
  });
});

describe('filters and statuses', () => {
  it('parses a metric comparison and refuses what a key range cannot answer', () => {
    expect(parseMetricFilter('metrics.val_auc >= 0.8')).toEqual({ metric: 'val_auc', op: '>=', value: 0.8 });
    expect(parseMetricFilter('loss == -0')).toEqual({ metric: 'loss', op: '=', value: 0 });
    expect(() => parseMetricFilter('auc != 1')).toThrow(/^filter: /);
    expect(() => parseMetricFilter('auc > NaN')).toThrow(
      'filter: must compare with a finite number (got NaN)',
    );
  });

  it('needs a reason to fail and takes none to finish', () => {
    expect(() => parseEndRun({ status: 'FAILED' })).toThrow(/^reason: /);
    expect(() => parseEndRun({ status: 'FINISHED', reason: 'x' })).toThrow(/^reason: /);
    expect(() => parseEndRun({ status: 'RUNNING' })).toThrow(
      /^status: must be one of FINISHED, FAILED, KILLED/,
    );
  });
});
