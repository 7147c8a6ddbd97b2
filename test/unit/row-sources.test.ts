import { describe, expect, it } from 'vitest';
import { MAX_CSV_COLUMNS, MAX_QUARANTINED_TEXT, parseBody } from '../../lambdas/feature-store/row-sources.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { prng } from '../support/random.js';

const csv = (body: string) => parseBody('csv', new TextEncoder().encode(body));

describe('parseBody (CSV)', () => {
  it('reads rows by header column, with their line numbers', async () => {
    expect(await csv('n,m\n1,2\n3,4\n')).toEqual({
      kind: 'text',
      records: [
        { position: 2, row: { n: '1', m: '2' } },
        { position: 3, row: { n: '3', m: '4' } },
      ],
    });
  });

  it.each([
    ['n,n\n1,2\n', 'n'],
    ['\uFEFFid,n,m,n\n1,2,3,4\n', 'n'],
    ['a,b,a\n1,2,3,4,5\nnot,a,row,"\n', 'a'],
  ])('rejects the whole body when the header %j repeats a column', async (body, column) => {
    const error = await csv(body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'body', rule: `CSV header repeats column ${column}` });
  });
});

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('parseBody refuses malformed files whole or quarantines each bad line on its own line', () => {
  it('quarantines a line with a stray quote without swallowing the valid line after it', async () => {
    const parsed = await csv('id,n\na,1\n"b,2\nc,3\nd,"4\ne,5\n');
    expect(parsed.records).toEqual([
      { position: 2, row: { id: 'a', n: '1' } },
      { position: 3, malformed: expect.stringMatching(/unbalanced quote in field 1/), text: '"b,2' },
      { position: 4, row: { id: 'c', n: '3' } },
      { position: 5, malformed: expect.stringMatching(/unbalanced quote in field 2/), text: 'd,"4' },
      { position: 6, row: { id: 'e', n: '5' } },
    ]);
  });

  it('reads quoted fields with commas and doubled quotes', async () => {
    const parsed = await csv('id,n\n"a,b","say ""hi"""\n"",x\n');
    expect(parsed.records).toEqual([
      { position: 2, row: { id: 'a,b', n: 'say "hi"' } },
      { position: 3, row: { id: '', n: 'x' } },
    ]);
  });

  it.each([
    ['ab"c,1', /field 1 holds a quote but is not quoted/],
    ['"ab"c,1', /field 1 has text after its closing quote/],
  ])('quarantines a quote in the wrong place (%j)', async (line, reason) => {
    const parsed = await csv(`id,n\n${line}\nok,2\n`);
    expect(parsed.records).toEqual([
      { position: 2, malformed: expect.stringMatching(reason), text: line },
      { position: 3, row: { id: 'ok', n: '2' } },
    ]);
  });

  it('quarantines ragged lines, each on its own line number', async () => {
    const parsed = await csv('id,n,m\n1,2,3\n1,2\n1,2,3,4\n\n5,6,7\n');
    expect(parsed.records.map((r) => ['malformed' in r ? r.malformed : 'row', r.position])).toEqual([
      ['row', 2],
      ['malformed CSV line: has 2 fields, the header has 3', 3],
      ['malformed CSV line: has 4 fields, the header has 3', 4],
      ['row', 6],
    ]);
  });

  it('refuses a semicolon-delimited file whole', async () => {
    const error = await refusal(csv('customer_id;event_time;orders\nc1;2026-01-01T00:00:00Z;1\n'));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      field: 'body',
      rule: expect.stringMatching(/comma-separated.*";"-delimited/),
    });
  });

  it('refuses JSON lines given as CSV whole, before counting a single row', async () => {
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ customer_id: `c${i}`, event_time: '2026-01-01T00:00:00Z', note: 'a, "b", c' }),
    );
    const error = await refusal(csv(lines.join('\n')));
    expect(error).toMatchObject({
      field: 'format',
      rule: expect.stringMatching(/looks like JSON lines.*--format jsonl/),
    });
  });

  it('refuses CSV given as JSON lines whole', async () => {
    const error = await refusal(parseBody('jsonl', new TextEncoder().encode('id,n\na,1\n')));
    expect(error).toMatchObject({
      field: 'format',
      rule: expect.stringMatching(/looks like CSV.*--format csv/),
    });
  });

  it('refuses a Parquet file given as CSV or JSON lines, naming the format', async () => {
    const parquet = new Uint8Array([
      ...new TextEncoder().encode('PAR1'),
      0,
      1,
      2,
      3,
      ...new TextEncoder().encode('PAR1'),
    ]);
    for (const format of ['csv', 'jsonl'] as const) {
      const error = await refusal(parseBody(format, parquet));
      expect(error).toMatchObject({
        field: 'format',
        rule: `is ${format}, but the file is Parquet: use --format parquet`,
      });
    }
  });

  it('refuses a CSV wider than the column limit before quarantining anything', async () => {
    const header = Array.from({ length: MAX_CSV_COLUMNS + 1 }, (_, i) => `c${i}`).join(',');
    const error = await refusal(csv(`${header}\n${'x,'.repeat(MAX_CSV_COLUMNS)}x\n`));
    expect(error).toMatchObject({
      field: 'body',
      rule: expect.stringMatching(/at most 1024 columns \(it has 1025\)/),
    });
  });

  it('keeps at most a bounded prefix of an unreadable line in its quarantine record', async () => {
    const long = `"${'x'.repeat(100_000)}`;
    const [record] = (await csv(`id\n${long}\n`)).records;
    expect(record).toMatchObject({ position: 2, malformed: expect.stringMatching(/unbalanced quote/) });
    expect((record as { text: string }).text.length).toBeLessThan(MAX_QUARANTINED_TEXT + 50);
  });

  it('accounts for every line of randomly corrupted CSV: one record per line, valid lines read intact', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const lines = ['id,name,n'];
      const expected: { position: number; row?: Record<string, string> }[] = [];
      const count = 1 + Math.floor(random() * 30);
      for (let i = 0; i < count; i++) {
        const row = { id: `e${i}`, name: random() < 0.3 ? 'with, comma and "quote"' : `n${i}`, n: String(i) };
        let line = [row.id, `"${row.name.replaceAll('"', '""')}"`, row.n].join(',');
        const roll = random();
        if (roll < 0.15)
          line = line.replace('"', ''); // a stray (unbalanced) quote
        else if (roll < 0.25) line = `${line},extra`;
        else if (roll < 0.3) line = line.replaceAll(',', ';');
        const valid = roll >= 0.3;
        lines.push(line);
        expected.push({ position: i + 2, ...(valid ? { row } : {}) });
      }
      const parsed = await csv(lines.join(random() < 0.5 ? '\n' : '\r\n'));
      expect(parsed.records.length, `seed ${seed}`).toBe(count);
      parsed.records.forEach((record, i) => {
        const want = expected[i];
        expect(record.position, `seed ${seed}`).toBe(want?.position);
        if (want?.row)
          expect(record, `seed ${seed} line ${want.position}`).toEqual({
            position: want.position,
            row: want.row,
          });
        else expect('malformed' in record, `seed ${seed} line ${want?.position}`).toBe(true);
      });
    }
  });
});
