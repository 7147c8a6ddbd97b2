import { describe, expect, it } from 'vitest';
import { attributeValueSize, itemSize } from '../../lambdas/shared/item-size.js';

// Expected sizes follow the rules in the DynamoDB developer guide ("Item sizes and formats").
describe('DynamoDB item size', () => {
  it('counts strings in UTF-8 bytes', () => {
    expect(attributeValueSize('abc')).toBe(3);
    expect(attributeValueSize('é')).toBe(2);
    expect(attributeValueSize('😀')).toBe(4);
  });

  it('counts numbers as one byte per two significant digits plus one', () => {
    expect(attributeValueSize(1)).toBe(2);
    expect(attributeValueSize(123456)).toBe(4);
    expect(attributeValueSize(0.000125)).toBe(3);
    expect(attributeValueSize(1e20)).toBe(2);
  });

  it('counts null and booleans as one byte', () => {
    expect(attributeValueSize(null)).toBe(1);
    expect(attributeValueSize(true)).toBe(1);
  });

  it('adds 3 bytes per map or list and 1 per element', () => {
    expect(attributeValueSize([])).toBe(3);
    expect(attributeValueSize(['ab', 'c'])).toBe(3 + 2 + 1 + 1 + 1);
    expect(attributeValueSize({ ab: 'c' })).toBe(3 + 2 + 1 + 1);
  });

  it('counts attribute names and reports each top-level attribute', () => {
    const { total, byAttribute } = itemSize({ pk: 'MODEL#x', n: 7, skipped: undefined });
    expect(byAttribute.get('pk')).toBe(2 + 7);
    expect(byAttribute.get('n')).toBe(1 + 2);
    expect(byAttribute.has('skipped')).toBe(false);
    expect(total).toBe(12);
  });
});
