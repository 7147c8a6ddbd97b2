/**
 * DynamoDB item size, computed by the rules DynamoDB bills and limits by (400 KB per item):
 * attribute names and strings count their UTF-8 bytes, numbers about one byte per two significant
 * digits plus one, binary its length, booleans and null one byte, and every map or list three bytes
 * plus one byte per element on top of its contents.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */

/** DynamoDB's item size limit in bytes. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

const encoder = new TextEncoder();

function utf8Length(value: string): number {
  return encoder.encode(value).length;
}

function numberSize(value: number): number {
  const digits = Math.abs(value).toExponential().replace(/e.*$/, '').replace('.', '').replace(/^0+/, '');
  return Math.min(21, Math.ceil(Math.max(digits.length, 1) / 2) + 1);
}

/** Size in bytes of one attribute value as DynamoDB stores it. */
export function attributeValueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8Length(value);
  if (typeof value === 'number') return numberSize(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) {
    return value.reduce<number>((sum, element) => sum + attributeValueSize(element) + 1, 3);
  }
  if (value instanceof Set) {
    let sum = 0;
    for (const element of value) sum += attributeValueSize(element);
    return sum;
  }
  if (typeof value === 'object') {
    let sum = 3;
    for (const [name, element] of Object.entries(value)) {
      if (element === undefined) continue;
      sum += utf8Length(name) + attributeValueSize(element) + 1;
    }
    return sum;
  }
  throw new TypeError(`cannot size a value of type ${typeof value}`);
}

/** Size in bytes of a whole item, and of each top-level attribute (name included). */
export function itemSize(item: Record<string, unknown>): { total: number; byAttribute: Map<string, number> } {
  const byAttribute = new Map<string, number>();
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    const size = utf8Length(name) + attributeValueSize(value);
    byAttribute.set(name, size);
    total += size;
  }
  return { total, byAttribute };
}
