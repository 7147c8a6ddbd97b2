import { describe, expect, it } from 'vitest';
import { parseBody } from '../../lambdas/feature-store/row-sources.js';
import { ValidationError } from '../../lambdas/shared/errors.js';

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
