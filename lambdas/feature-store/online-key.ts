/**
 * What the online store can hold, in one place: its partition key, `<view>#<JSON array of entity key
 * values>`, and its number range. The online store builds keys and checks records with these, and
 * ingestion (row-validation.ts) applies the same rules, so no accepted row is one DynamoDB or its
 * document client refuses. No AWS SDK here.
 */

import { MAX_PARTITION_KEY_BYTES, onlineKey } from '../shared/layout.js';

export { onlineKey };

/** DynamoDB's limit on a partition key value, in UTF-8 bytes. */
export const DYNAMODB_PARTITION_KEY_LIMIT_BYTES = MAX_PARTITION_KEY_BYTES;

/**
 * Smallest magnitude of a non-zero DynamoDB number (1E-130). The largest an online value may have is
 * 2^53−1: the document client (@aws-sdk/util-dynamodb `convertToNumberAttr`) refuses a number beyond
 * ±Number.MAX_SAFE_INTEGER, NaN or ±Infinity on write (and would read one back as a bigint or fail),
 * well inside DynamoDB's own limit (just under 1E+126). Within the range, a number's shortest
 * JavaScript form (at most 17 significant digits, DynamoDB keeps 38) reads back as the same double.
 */
export const MIN_ONLINE_MAGNITUDE = 1e-130;
export const ONLINE_NUMBER_RULE =
  'must be 0 or of magnitude from 1e-130 to 2^53−1 (the online store’s number range)';
/** Whether the online store can write `n` and read it back as the same number (-0 reads back as 0). */
export function isOnlineNumber(n: number): boolean {
  if (n === 0) return true;
  const magnitude = Math.abs(n);
  return magnitude >= MIN_ONLINE_MAGNITUDE && magnitude <= Number.MAX_SAFE_INTEGER;
}

/**
 * UTF-8 length of a well-formed string without encoding it. (A lone surrogate would count 3, like
 * the U+FFFD an encoder puts in its place; row validation refuses such strings anyway.)
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The online key's size in bytes, as DynamoDB counts it. */
export const onlineKeyBytes = (view: string, entityKey: readonly (string | number)[]): number =>
  utf8ByteLength(onlineKey(view, entityKey));
