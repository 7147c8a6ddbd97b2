/**
 * Inputs: files or standard input (`-`), formats (from `--format`, the extension, else sniffed from
 * the content), lists that can be long (entity keys, entity rows) as JSON lines, a JSON array, CSV
 * or Parquet, and times (with a hint for epoch seconds).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { type IngestFormat, parseBody } from '../../lambdas/feature-store/row-sources.js';
import { parseEventTime } from '../../lambdas/feature-store/row-validation.js';
import { CliInputError, type CliIo, EPOCH_SECONDS_HINT, looksLikeEpochSeconds } from './output.js';

/** A registry version number given on the command line (`version` argument), or bad input. */
export function parseRegistryVersion(text: string): number {
  const version = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(version) || version < 1)
    throw new CliInputError(
      'version',
      'must be a positive integer (a registry version)',
      'list them with: mlops models versions <model>',
    );
  return version;
}

/** The bytes of `file`, or of standard input for `-`. */
export async function readInput(file: string, field: string, io: CliIo): Promise<Uint8Array> {
  if (file === '-') {
    if (io.stdin === undefined) throw new CliInputError(field, 'cannot read standard input here');
    return io.stdin();
  }
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw new CliInputError(
      field,
      `must be a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}: ${file})`,
      file.startsWith('-') ? undefined : 'use - to read standard input',
    );
  }
}

/** The format of an input: `--format`, else the file's extension, else sniffed from its first bytes. */
export function formatOf(file: string, body: Uint8Array, given?: IngestFormat): IngestFormat {
  if (given) return given;
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (body.byteLength >= 4 && new TextDecoder().decode(body.subarray(0, 4)) === 'PAR1') return 'parquet';
  const head = new TextDecoder().decode(body.subarray(0, 64)).trimStart();
  return head.startsWith('{') || head.startsWith('[') ? 'jsonl' : 'csv';
}

/**
 * Rows of entity keys (and for training sets, timestamps and labels) from a file in any input
 * format. A JSON array on one line is read as a list of rows. CSV cells are text: the int64 entity
 * key columns of `views` become numbers (a cell that is not an integer is bad input).
 */
export async function readEntityRows(
  body: Uint8Array,
  format: IngestFormat,
  field: string,
  views: readonly FeatureView[],
): Promise<Record<string, unknown>[]> {
  const parsed = await parseBody(format, body);
  const rows: Record<string, unknown>[] = [];
  for (const record of parsed.records) {
    if ('malformed' in record) throw new CliInputError(`${field}.line ${record.position}`, record.malformed);
    const values = Array.isArray(record.row) ? record.row : [record.row];
    for (const row of values) {
      if (typeof row !== 'object' || row === null || Array.isArray(row))
        throw new CliInputError(
          `${field}.line ${record.position}`,
          'must be an object of entity key columns',
        );
      rows.push(row as Record<string, unknown>);
    }
  }
  if (parsed.kind === 'text') {
    const intKeys = new Set(
      views.flatMap((v) => v.entities.filter((e) => e.type === 'int64').map((e) => e.name)),
    );
    rows.forEach((row, i) => {
      for (const column of intKeys) {
        const cell = row[column];
        if (typeof cell !== 'string') continue;
        if (!/^[+-]?\d+$/.test(cell) || !Number.isSafeInteger(Number(cell)))
          throw new CliInputError(`${field}.${i}.${column}`, 'must be an integer (an int64 entity key)');
        row[column] = Number(cell);
      }
    });
  }
  return rows;
}

/** A time option: RFC 3339 with a zone, or epoch milliseconds; epoch seconds get a hint. */
export function timeOption(text: string, field: string): number {
  const ms = parseEventTime(text);
  if (Number.isNaN(ms))
    throw new CliInputError(field, 'must be an RFC 3339 time with a zone or epoch milliseconds');
  if (looksLikeEpochSeconds(text))
    throw new CliInputError(field, 'must be epoch milliseconds, not seconds', EPOCH_SECONDS_HINT);
  return ms;
}

/** Refuses timestamps that look like epoch seconds (they would be read as January 1970). */
export function checkTimestamps(
  rows: readonly Record<string, unknown>[],
  column: string,
  field: string,
): void {
  const at = rows.findIndex((row) => looksLikeEpochSeconds(row[column]));
  if (at >= 0)
    throw new CliInputError(
      `${field}.${at}.${column}`,
      `must be epoch milliseconds or RFC 3339 (${String(rows[at]?.[column])} reads as January 1970)`,
      EPOCH_SECONDS_HINT,
    );
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function parseJsonOption(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliInputError(field, 'must be valid JSON');
  }
}
