/**
 * The online store's partition key, `<view>#<JSON array of entity key values>`, in one place: the
 * online store builds it, and ingestion measures it (row-validation.ts) so that no accepted row has a
 * key DynamoDB refuses. No AWS SDK here.
 */

/** DynamoDB's limit on a partition key value, in UTF-8 bytes. */
export const DYNAMODB_PARTITION_KEY_LIMIT_BYTES = 2048;

/** The online item's partition key of one entity of a view. */
export const onlineKey = (view: string, entityKey: readonly (string | number)[]): string =>
  `${view}#${JSON.stringify(entityKey)}`;

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
