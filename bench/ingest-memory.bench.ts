/**
 * Peak memory of ingestion's CPU path (parse, validate, encode: `prepareBatch`) for a body of a
 * given size in each format, each in a fresh process (VmHWM), so the body limit
 * (MAX_INGEST_BODY_BYTES, 32 MiB) can be checked against the function's memory. No peer: prints
 * `ingest-memory <format> <MiB>: peak RSS … MiB (… × the body), … rows, … s`.
 *
 * Sizes: BENCH_MIB / --mib (32, the limit), formats: BENCH_FORMATS (jsonl,csv,parquet).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MAX_INGEST_BODY_BYTES, prepareBatch } from '../lambdas/feature-store/ingest.js';
import { encodeFeatureRows } from '../lambdas/feature-store/parquet-codec.js';
import type { IngestFormat } from '../lambdas/feature-store/row-sources.js';
import type { TypedRow } from '../lambdas/feature-store/row-validation.js';
import { arg, customerView, mulberry32, peakRssMiB } from './support.js';

const MIB = arg('mib', 32);
const view = customerView;
const DAY0 = Date.parse('2026-11-01T00:00:00Z');

/** A body of about `bytes` in `format`, rows over 7 days. */
function body(format: IngestFormat, bytes: number): Uint8Array {
  const random = mulberry32(3);
  const row = () => ({
    customer_id: `c${Math.floor(random() * 100_000)}`,
    event_time: DAY0 + Math.floor(random() * 7 * 86_400_000),
    orders: Math.floor(random() * 50),
    spend: random() < 0.1 ? null : Math.round(random() * 100_000) / 100,
  });
  if (format === 'parquet') {
    // Parquet compresses: grow rows until the encoded file reaches the size.
    const rows: TypedRow[] = [];
    let file: Uint8Array = new Uint8Array();
    while (file.byteLength < bytes) {
      for (let i = 0; i < 500_000; i++) {
        const r = row();
        rows.push({
          eventTimeMs: r.event_time,
          values: { customer_id: r.customer_id, orders: r.orders, spend: r.spend },
        });
      }
      file = encodeFeatureRows(view, rows, DAY0);
    }
    return file;
  }
  const parts: string[] = format === 'csv' ? ['customer_id,event_time,orders,spend'] : [];
  let size = 0;
  while (size < bytes) {
    const r = row();
    const line =
      format === 'csv'
        ? `${r.customer_id},${new Date(r.event_time).toISOString()},${r.orders},${r.spend ?? ''}`
        : JSON.stringify(r);
    parts.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(`${parts.join('\n')}\n`);
}

const child = process.argv.indexOf('--child');
if (child >= 0) {
  const format = process.argv[child + 1] as IngestFormat;
  const input = new Uint8Array(readFileSync(process.argv[child + 2] as string));
  const start = performance.now();
  const prepared = await prepareBatch(view, format, input, DAY0 + 8 * 86_400_000);
  console.log(
    JSON.stringify({
      seconds: (performance.now() - start) / 1000,
      rows: prepared.received,
      bodyMiB: input.byteLength / 2 ** 20,
      peakMiB: peakRssMiB(),
    }),
  );
  process.exit(0);
}

const formats = (process.env.BENCH_FORMATS ?? 'jsonl,csv,parquet').split(',') as IngestFormat[];
console.log(
  `ingest-memory note: body limit ${MAX_INGEST_BODY_BYTES / 2 ** 20} MiB; measuring ${MIB} MiB bodies`,
);
const dir = mkdtempSync(path.join(tmpdir(), 'bench-ingest-memory-'));
for (const format of formats) {
  // The body is made here and read from disk by the child, whose peak is then ingestion's alone.
  const file = path.join(dir, `body.${format}`);
  writeFileSync(file, body(format, MIB * 2 ** 20));
  const run = spawnSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--child', format, file, '--mib', String(MIB)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (run.status !== 0) throw new Error(`ingest-memory ${format} failed (exit ${run.status})`);
  const r = JSON.parse(run.stdout) as { seconds: number; rows: number; bodyMiB: number; peakMiB: number };
  console.log(
    `ingest-memory ${format} ${r.bodyMiB.toFixed(0)} MiB: peak RSS ${r.peakMiB.toFixed(0)} MiB (${(r.peakMiB / r.bodyMiB).toFixed(1)}× the body), ${r.rows} rows, ${r.seconds.toFixed(1)} s`,
  );
}
rmSync(dir, { recursive: true, force: true });
