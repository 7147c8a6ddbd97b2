/**
 * Reads a model's `metadata_props` (ModelProto field 14, repeated StringStringEntryProto
 * {key = 1, value = 2}) straight off the wire, skipping every other top-level field by its wire
 * type without decoding it — the graph (field 7) holds every weight and tree node and is most of
 * the bytes. This is what the serving path reads at cold start (model-contract.ts): a full
 * protobufjs decode of a 384 KB GBDT costs 100–200 ms in a fresh process, this a fraction of a ms,
 * and it loads no protobuf library at all.
 *
 * Same answer as `readOnnxModel(bytes).metadata` (onnx/writer.ts) on any model that decodes there
 * (the last entry wins for a repeated key, a missing key or value reads as ''), and the same error
 * class on bytes that are not a ModelProto: ValidationError on `model` (truncated bytes, a length
 * past the end, a bad wire type).
 */
import { ValidationError } from '../../shared/errors.js';

/** ModelProto.metadata_props. */
const METADATA_PROPS_FIELD = 14;
/** StringStringEntryProto.key / .value. */
const ENTRY_KEY_FIELD = 1;
const ENTRY_VALUE_FIELD = 2;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const utf8 = new TextDecoder('utf-8');

/** A cursor over protobuf wire bytes in [pos, end). */
class Wire {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint as a number (tags and lengths: below 2^32 in any valid message). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`index out of range: ${this.pos} + 1 > ${this.end}`);
      const b = this.bytes[this.pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new WireError('invalid varint encoding');
  }

  /** A length-delimited field's [start, end), advancing past it. */
  delimited(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start)
      throw new WireError(`index out of range: ${start} + ${length} > ${this.end}`);
    this.pos = start + length;
    return [start, this.pos];
  }

  advance(n: number): void {
    if (n > this.end - this.pos) throw new WireError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    this.pos += n;
  }

  /** Skips a field's value of `wireType` (after its tag). */
  skip(wireType: number, field: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_BYTES:
        this.delimited();
        return;
      case WIRE_START_GROUP:
        for (;;) {
          const tag = this.varint();
          const type = tag & 7;
          if (type === WIRE_END_GROUP) {
            if (tag >>> 3 !== field) throw new WireError(`unmatched end group for field ${field}`);
            return;
          }
          this.skip(type, tag >>> 3);
        }
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  string(start: number, end: number): string {
    return utf8.decode(this.bytes.subarray(start, end));
  }
}

function readEntry(wire: Wire, start: number, end: number): { key: string; value: string } {
  const entry = new Wire(wire.bytes, start, end);
  let key = '';
  let value = '';
  while (entry.pos < end) {
    const tag = entry.varint();
    const field = tag >>> 3;
    const type = tag & 7;
    if ((field === ENTRY_KEY_FIELD || field === ENTRY_VALUE_FIELD) && type === WIRE_BYTES) {
      const [s, e] = entry.delimited();
      if (field === ENTRY_KEY_FIELD) key = entry.string(s, e);
      else value = entry.string(s, e);
    } else {
      if (type === WIRE_END_GROUP) throw new WireError(`unexpected end group at offset ${entry.pos}`);
      entry.skip(type, field);
    }
  }
  return { key, value };
}

/**
 * The model's metadata_props as a record (last entry wins for a repeated key). Throws
 * ValidationError on `model` when the bytes are not a well-formed ModelProto at the top level.
 */
export function readOnnxMetadata(bytes: Uint8Array): Readonly<Record<string, string>> {
  const metadata: Record<string, string> = {};
  const wire = new Wire(bytes, 0, bytes.length);
  try {
    while (wire.pos < wire.end) {
      const tag = wire.varint();
      const field = tag >>> 3;
      const type = tag & 7;
      if (field === 0) throw new WireError(`illegal field number 0 at offset ${wire.pos}`);
      if (field === METADATA_PROPS_FIELD) {
        if (type !== WIRE_BYTES) throw new WireError(`metadata_props has wire type ${type}, not 2`);
        const [start, end] = wire.delimited();
        const { key, value } = readEntry(wire, start, end);
        metadata[key] = value;
      } else {
        if (type === WIRE_END_GROUP) throw new WireError(`unexpected end group at offset ${wire.pos}`);
        wire.skip(type, field);
      }
    }
  } catch (cause) {
    if (!(cause instanceof WireError)) throw cause;
    throw new ValidationError('model', `is not an ONNX ModelProto (${cause.message})`);
  }
  return metadata;
}
