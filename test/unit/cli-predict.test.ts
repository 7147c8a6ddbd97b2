import { describe, expect, it } from 'vitest';
import { instanceOf, parsePairs, parseValue } from '../../bin/cli/commands/predict.js';
import { CliInputError } from '../../bin/cli/output.js';

describe('mlops predict flags', () => {
  it('reads numbers, booleans and null as JSON values and anything else as text', () => {
    expect(parseValue('41')).toBe(41);
    expect(parseValue('-0.5')).toBe(-0.5);
    expect(parseValue('1e3')).toBe(1000);
    expect(parseValue('true')).toBe(true);
    expect(parseValue('false')).toBe(false);
    expect(parseValue('null')).toBeNull();
    expect(parseValue('new')).toBe('new');
    expect(parseValue('12abc')).toBe('12abc');
    expect(parseValue('')).toBe('');
  });

  it('builds raw-feature, entity and mixed instances; entity numbers as numbers (int64 keys), else text', () => {
    expect(instanceOf({ features: 'age=41,segment=new' })).toEqual({ features: { age: 41, segment: 'new' } });
    expect(instanceOf({ entity: 'customer_id=007' })).toEqual({ entity: { customer_id: '007' } });
    expect(instanceOf({ entity: 'account=42,shard=-3,flag=true' })).toEqual({
      entity: { account: 42, shard: -3, flag: 'true' },
    });
    expect(instanceOf({ entity: 'customer_id=c-1', features: 'age=3' })).toEqual({
      entity: { customer_id: 'c-1' },
      features: { age: 3 },
    });
  });

  it('refuses pairs without a name or =, and a request with neither flag, naming the flag', () => {
    expect(() => parsePairs('features', 'age')).toThrow(CliInputError);
    expect(() => parsePairs('features', '=3')).toThrow(/features/);
    expect(() => instanceOf({})).toThrow(/--features/);
  });
});
