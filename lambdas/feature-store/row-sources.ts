/**
 * Turns an ingestion body (JSON lines, CSV with a header, or Parquet) into raw rows, each with its
 * position in the input; lines that cannot be parsed at all become rejections with a reason, so
 * every received row is accounted for.
 *
 * Strict by design: a CSV record is one line (a quoted field may hold commas and doubled quotes,
 * not line breaks), so a line's problem stays on that line and `received` matches the file's
 * non-blank lines; a file whose header shows it is not comma-separated CSV (JSON lines, Parquet, a
 * `;`/tab/`|` delimiter, more than MAX_CSV_COLUMNS columns) is refused whole, nothing written.
 */
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

/** Columns a CSV header may have: a very wide file is refused before any row is read or quarantined. */
export const MAX_CSV_COLUMNS = 1024;
/** Characters of an unreadable line kept in its quarantine record (the line number finds the rest). */
export const MAX_QUARANTINED_TEXT = 2048;

const clip = (line: string) =>
  line.length > MAX_QUARANTINED_TEXT
    ? `${line.slice(0, MAX_QUARANTINED_TEXT)}… (${line.length} chars)`
    : line;

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
      if (records.length === 0 && !/^\s*[{[]/.test(line))
        throw new ValidationError(
          'format',
          `is jsonl, but line ${i + 1} is not JSON${line.includes(',') ? ' (the file looks like CSV: use --format csv)' : ''}`,
        );
      records.push({
        position: i + 1,
        malformed: `malformed JSON: ${(error as Error).message}`,
        text: clip(line),
      });
    }
  }
  return records;
}

/**
 * One CSV line split into fields (RFC 4180: a field is either plain, without quotes, or wholly
 * quoted with `""` for a quote). A record is one line: a quoted field may not span lines, so a stray
 * quote spoils its own line only, never the valid lines after it.
 */
export function splitCsvLine(line: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote < 0)
          return {
            error: `unbalanced quote in field ${fields.length + 1} (a quoted field must close on its line)`,
          };
        value += line.slice(from, quote);
        if (line.charCodeAt(quote + 1) === 34) {
          value += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line.charCodeAt(i) !== 44 /* , */)
        return { error: `field ${fields.length} has text after its closing quote` };
      i++;
      continue;
    }
    const comma = line.indexOf(',', i);
    const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
    if (value.includes('"'))
      return {
        error: `field ${fields.length + 1} holds a quote but is not quoted (quote the field and double the quote)`,
      };
    fields.push(value);
    if (comma < 0) return fields;
    i = comma + 1;
  }
}

/** Another delimiter a one-column line holds, for the error that says what the file looks like. */
function otherDelimiter(line: string): string | undefined {
  return [';', '\t', '|'].find((d) => line.includes(d));
}

function parseCsvBody(body: Uint8Array): RawRecord[] {
  const lines = text(body)
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const headerAt = lines.findIndex((line) => line.trim() !== '');
  if (headerAt < 0) return [];
  const headerLine = lines[headerAt] as string;
  if (/^\s*[{[]/.test(headerLine))
    throw new ValidationError(
      'format',
      'is csv, but the file looks like JSON lines (its first line starts with { or [): use --format jsonl',
    );
  const header = splitCsvLine(headerLine);
  if (!Array.isArray(header))
    throw new ValidationError('body', `CSV header (line ${headerAt + 1}) is malformed: ${header.error}`);
  const delimiter = header.length === 1 ? otherDelimiter(headerLine) : undefined;
  if (delimiter !== undefined)
    throw new ValidationError(
      'body',
      `must be comma-separated CSV (the header is one column holding ${JSON.stringify(delimiter)}: the file looks ${JSON.stringify(delimiter)}-delimited)`,
    );
  if (header.length > MAX_CSV_COLUMNS)
    throw new ValidationError(
      'body',
      `CSV header must have at most ${MAX_CSV_COLUMNS} columns (it has ${header.length})`,
    );
  const seen = new Set<string>();
  for (const column of header) {
    // A repeated header column would let its last cell silently win: refuse the body up front.
    if (seen.has(column)) throw new ValidationError('body', `CSV header repeats column ${column}`);
    if (column === '') throw new ValidationError('body', 'CSV header must name every column (one is empty)');
    seen.add(column);
  }
  const records: RawRecord[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const position = i + 1;
    const fields = splitCsvLine(line);
    if (!Array.isArray(fields)) {
      records.push({ position, malformed: `malformed CSV line: ${fields.error}`, text: clip(line) });
      continue;
    }
    if (fields.length !== header.length) {
      const other = fields.length === 1 ? otherDelimiter(line) : undefined;
      records.push({
        position,
        malformed: `malformed CSV line: has ${fields.length} fields, the header has ${header.length}${other === undefined ? '' : ` (is it ${JSON.stringify(other)}-delimited?)`}`,
        text: clip(line),
      });
      continue;
    }
    const row: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) row[header[c] as string] = fields[c] as string;
    records.push({ position, row });
  }
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

/** Parquet files begin and end with the magic bytes PAR1. */
function isParquet(body: Uint8Array): boolean {
  const magic = [0x50, 0x41, 0x52, 0x31];
  return body.byteLength >= 8 && magic.every((b, i) => body[i] === b && body[body.byteLength - 4 + i] === b);
}

/** Parses a body in the given format. An empty body, or one with no records, is a ValidationError. */
export async function parseBody(format: IngestFormat, body: Uint8Array): Promise<ParsedBody> {
  if (body.byteLength === 0) throw new ValidationError('body', 'must not be empty');
  if (format !== 'parquet' && isParquet(body))
    throw new ValidationError('format', `is ${format}, but the file is Parquet: use --format parquet`);
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
