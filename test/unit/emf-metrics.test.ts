/**
 * The local EMF extraction's parser (local/emf-metrics.ts): what CloudWatch Logs would extract from
 * a log line. Serving documents are built by the real metrics module and read back with the test
 * reader, so the test follows the format the functions write.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MetricSpec, SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { createMetrics, recordPredictError, recordPrediction } from '../../lambdas/shared/metrics.js';
import { type Datum, emfDatums, readEmf } from '../../local/emf-metrics.js';
import { emittedSync } from '../support/emf.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const NOW = 1_780_000_000_000;

/** Datums as comparable rows: `name{dim=value,…} unit [values]`. */
const rows = (datums: readonly Datum[]) =>
  datums
    .map(
      (d) =>
        `${d.namespace}/${d.name}{${d.dimensions.map((x) => `${x.name}=${x.value}`).join(',')}} ${d.unit} ${JSON.stringify(d.values)}`,
    )
    .sort();

describe('emfDatums (the local stand-in for CloudWatch Logs EMF extraction)', () => {
  it("extracts a serving document: every metric under each of its spec's dimension sets", () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const metrics = createMetrics({ namespace: 'EmfTest', serviceName: 'inference' });
    const by = { model: 'churn', version: 4, variant: 'default' };
    const { docs } = emittedSync(() => {
      recordPrediction(metrics, by, { instances: 5, latencyMs: 12.5, modelLatencyMs: 3 });
      recordPredictError(metrics, by, { code: 'InternalError', status: 500, latencyMs: 7 });
    });
    expect(docs).toHaveLength(2);
    const [ok, failed] = docs.map((doc) => emfDatums(JSON.stringify(doc)));
    const version = 'service=inference,model=churn,version=4';
    const model = 'service=inference,model=churn';
    const { requests, predictions, latency, modelLatency, errors, serverErrors } = SERVING_METRICS;
    const values: Record<string, string> = {
      service: 'inference',
      model: 'churn',
      version: '4',
      variant: 'default',
      errorType: 'InternalError',
    };
    const expected = (entries: [MetricSpec, number][]) =>
      entries
        .flatMap(([spec, value]) =>
          [spec.dimensions, ...(spec.rollups ?? [])].map((set) => {
            const dims = set.map((n) => `${n}=${values[n]}`).join(',');
            return `EmfTest/${spec.name}{${dims}} ${spec.unit} [${value}]`;
          }),
        )
        .sort();
    expect(rows(ok ?? [])).toEqual(
      expected([
        [requests, 1],
        [predictions, 5],
        [latency, 12.5],
        [modelLatency, 3],
      ]),
    );
    expect(rows(ok ?? [])).toContain(`EmfTest/${latency.name}{${version}} Milliseconds [12.5]`);
    expect(rows(ok ?? [])).toContain(`EmfTest/${latency.name}{${model}} Milliseconds [12.5]`);
    expect(rows(failed ?? [])).toEqual(
      expected([
        [requests, 1],
        [errors, 1],
        [serverErrors, 1],
        [latency, 7],
      ]),
    );
    for (const datum of [...(ok ?? []), ...(failed ?? [])]) {
      expect(datum.timestamp).toBe(NOW);
      expect(datum.storageResolution).toBe(60);
    }
  });

  it('extracts a Powertools document (its own serializer), default dimensions included', () => {
    const metrics = createMetrics({ namespace: 'EmfTest', serviceName: 'features' });
    metrics.addDimension('view', 'customers');
    metrics.addMetric('RowsAccepted', 'Count', 40);
    metrics.addMetric('IngestDuration', 'Milliseconds', 8);
    const line = JSON.stringify(metrics.serializeMetrics());
    expect(rows(emfDatums(line) ?? [])).toEqual([
      'EmfTest/IngestDuration{service=features,view=customers} Milliseconds [8]',
      'EmfTest/RowsAccepted{service=features,view=customers} Count [40]',
    ]);
  });

  it('extracts several directives, several sets, array values, no sets and high resolution', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: 'A',
            Dimensions: [['model'], ['model', 'version'], []],
            Metrics: [{ Name: 'Latency', Unit: 'Milliseconds' }, { Name: 'Hits' }],
          },
          {
            Namespace: 'B',
            Dimensions: [],
            Metrics: [{ Name: 'Hits', Unit: 'Count', StorageResolution: 1 }],
          },
        ],
      },
      model: 'm',
      version: '2',
      Latency: [1, 2, 2.5],
      Hits: 3,
      message: 'other members are ignored',
    });
    const datums = emfDatums(line) ?? [];
    expect(rows(datums)).toEqual([
      'A/Hits{model=m,version=2} undefined [3]',
      'A/Hits{model=m} undefined [3]',
      'A/Hits{} undefined [3]',
      'A/Latency{model=m,version=2} Milliseconds [1,2,2.5]',
      'A/Latency{model=m} Milliseconds [1,2,2.5]',
      'A/Latency{} Milliseconds [1,2,2.5]',
      'B/Hits{} Count [3]',
    ]);
    expect(datums.find((d) => d.namespace === 'B')?.storageResolution).toBe(1);
  });

  it('leaves ordinary log lines alone', () => {
    expect(readEmf('plain text')).toEqual({ kind: 'log' });
    expect(readEmf('{"level":"INFO","message":"no metrics"}')).toEqual({ kind: 'log' });
    expect(readEmf('{"level":"INFO","message":"mentions \\"_aws\\" in text"}')).toEqual({ kind: 'log' });
    expect(emfDatums('plain text')).toEqual([]);
  });

  const valid = {
    _aws: {
      Timestamp: NOW,
      CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['d']], Metrics: [{ Name: 'M', Unit: 'Count' }] }],
    },
    d: 'x',
    M: 1,
  };
  const directive = valid._aws.CloudWatchMetrics[0];
  const invalid: [string, unknown, RegExp][] = [
    ['truncated JSON', '{"_aws":{"Timestamp":1,', /JSON/],
    ['_aws not an object', { ...valid, _aws: 'x' }, /_aws must be an object/],
    ['no CloudWatchMetrics', { ...valid, _aws: { Timestamp: NOW } }, /CloudWatchMetrics/],
    ['no Timestamp', { ...valid, _aws: { CloudWatchMetrics: [directive] } }, /Timestamp/],
    ['a string Timestamp', { ...valid, _aws: { ...valid._aws, Timestamp: '2026' } }, /Timestamp/],
    [
      'no Namespace',
      { ...valid, _aws: { ...valid._aws, CloudWatchMetrics: [{ ...directive, Namespace: undefined }] } },
      /Namespace/,
    ],
    ['no value for a metric', { ...valid, M: undefined }, /metric M: value/],
    ['a string value', { ...valid, M: '1' }, /metric M: value/],
    ['a non-number in an array value', { ...valid, M: [1, 'x'] }, /metric M: value/],
    ['an empty array value', { ...valid, M: [] }, /metric M/],
    ['more than 100 values', { ...valid, M: Array.from({ length: 101 }, () => 1) }, /metric M/],
    ['a dimension without a value', { ...valid, d: undefined }, /dimension d/],
    ['a numeric dimension value', { ...valid, d: 3 }, /dimension d/],
    [
      'an unknown unit',
      {
        ...valid,
        _aws: {
          ...valid._aws,
          CloudWatchMetrics: [{ ...directive, Metrics: [{ Name: 'M', Unit: 'Furlongs' }] }],
        },
      },
      /unit "Furlongs"/,
    ],
    [
      'a set of 31 dimensions',
      {
        ...valid,
        ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v'])),
        _aws: {
          ...valid._aws,
          CloudWatchMetrics: [{ ...directive, Dimensions: [Array.from({ length: 31 }, (_, i) => `k${i}`)] }],
        },
      },
      /at most 30/,
    ],
  ];
  it.each(invalid)('counts a document with %s as invalid, without throwing', (_, doc, reason) => {
    const line = typeof doc === 'string' ? doc : JSON.stringify(doc);
    const read = readEmf(line);
    expect(read.kind).toBe('invalid');
    expect(read.kind === 'invalid' ? read.reason : '').toMatch(reason);
    expect(emfDatums(line)).toBeUndefined();
  });

  it('reads the valid document those are built from', () => {
    expect(rows(emfDatums(JSON.stringify(valid)) ?? [])).toEqual(['N/M{d=x} Count [1]']);
  });
});
