/**
 * Turns an ingestion body (JSON lines, CSV with a header, or Parquet) into raw rows, each with its
 * position in the input; lines that cannot be parsed at all become rejections with a reason, so
 * every received row is accounted for.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { parquetReadObjects } from 'hyparquet';
import { ValidationError } from '../shared/errors.js';
import { TIME_PARSERS } from './parquet-codec.js';
import type { InputKind } from './row-validation.js';

export const INGEST_FORMATS = ['jsonl', 'csv', 'parquet'] as const;
export type IngestFormat = (typeof INGEST_FORMATS)[number];

/** One input record: its 1-based position (line for text formats, row for Parquet) and content. */
export type RawRecord =
  | { readonly position: number; readonly row: unknown }
  | { readonly position: number; readonly malformed: string; readonly text: string };

export interface ParsedBody {
  readonly kind: InputKind;
  readonly records: RawRecord[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function text(body: Uint8Array): string {
  try {
    return decoder.decode(body);
  } catch {
    throw new ValidationError('body', 'must be UTF-8 text');
  }
}

function parseJsonLines(body: Uint8Array): RawRecord[] {
  const records: RawRecord[] = [];
  const lines = text(body).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    try {
      records.push({ position: i + 1, row: JSON.parse(line) });
    } catch (error) {
      records.push({ position: i + 1, malformed: `malformed JSON: ${(error as Error).message}`, text: line });
    }
  }
  return records;
}

function parseCsvBody(body: Uint8Array): RawRecord[] {
  const records: RawRecord[] = [];
  const rows = parseCsv(text(body), {
    // A repeated header column would let its last cell silently win: refuse the body up front.
    columns: (header: string[]) => {
      const seen = new Set<string>();
      for (const column of header) {
        if (seen.has(column)) throw new ValidationError('body', `CSV header repeats column ${column}`);
        seen.add(column);
      }
      return header;
    },
    skip_empty_lines: true,
    bom: true,
    info: true,
    raw: true,
    skip_records_with_error: true,
    on_skip: (error, raw) => {
      records.push({
        position: typeof error?.lines === 'number' ? error.lines : 0,
        malformed: `malformed CSV record: ${error?.message ?? 'unparsable'}`,
        text: raw ?? '',
      });
      return undefined;
    },
  }) as { record: Record<string, string>; info: { lines: number } }[];
  for (const { record, info } of rows) records.push({ position: info.lines, row: record });
  records.sort((a, b) => a.position - b.position);
  return records;
}

async function parseParquet(body: Uint8Array): Promise<RawRecord[]> {
  let rows: Record<string, unknown>[];
  try {
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    rows = (await parquetReadObjects({
      file,
      parsers: TIME_PARSERS,
    })) as Record<string, unknown>[];
  } catch (error) {
    throw new ValidationError('body', `must be a readable Parquet file (${(error as Error).message})`);
  }
  return rows.map((row, i) => ({ position: i + 1, row }));
}

/** Parses a body in the given format. An empty body, or one with no records, is a ValidationError. */
export async function parseBody(format: IngestFormat, body: Uint8Array): Promise<ParsedBody> {
  if (body.byteLength === 0) throw new ValidationError('body', 'must not be empty');
  let parsed: ParsedBody;
  switch (format) {
    case 'jsonl':
      parsed = { kind: 'typed', records: parseJsonLines(body) };
      break;
    case 'csv':
      parsed = { kind: 'text', records: parseCsvBody(body) };
      break;
    case 'parquet':
      parsed = { kind: 'typed', records: await parseParquet(body) };
      break;
    default:
      throw new ValidationError('format', `must be one of ${INGEST_FORMATS.join(', ')}`);
  }
  if (parsed.records.length === 0) throw new ValidationError('body', 'must hold at least one row');
  return parsed;
}
