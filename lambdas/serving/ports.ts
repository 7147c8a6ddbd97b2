/**
 * The inside seams of the inference function: what the request path (request.ts, instances.ts,
 * scorer.ts, http.ts) needs from the I/O modules (model-loader.ts, online-features.ts, capture.ts),
 * as interfaces, so each side is built and tested on its own and the handler wires them.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { OnlineFeatureValue } from '../feature-store/online-store.js';
import type { InputSignature, ModelOutput } from '../registry/version-record.js';
import type { ModelContract } from '../training/model-contract.js';
import type { CaptureRecord } from './contract.js';

/** A model ready to serve: loaded once at cold start, verified against the registry. */
export interface LoadedModel {
  readonly name: string;
  /** The registry version it is. */
  readonly version: number;
  /** SHA-256 of the artifact, checked against the registry before the session was created. */
  readonly sha256: string;
  /** What the ONNX file says about itself (encoding spec, classes, output, lineage). */
  readonly contract: ModelContract;
  /** The registry's record of the inputs (names, types, views) and output. */
  readonly signature: InputSignature;
  readonly output: ModelOutput;
  readonly session: InferenceSession;
  /** Download + verify + session + warm-up, in milliseconds. */
  readonly initMs: number;
}

/** An entity key as a request gives it: entity name → value. */
export type EntityKeyValues = Readonly<Record<string, string | number>>;

/** Where entity-key instances get their stored features. */
export interface OnlineFeatureSource {
  /**
   * For each key (same order), feature name → stored value and age, for every signature input
   * whose view holds the entity. A value older than its view's TTL has `value: null, ageMs: null`.
   * Throws RequestError `InvalidEntity` (malformed key, unknown entity name; `instance` = index in
   * `keys`) or `UnknownEntity` (no unexpired value in any of the model's views), and
   * DependencyError when the store fails.
   */
  read(
    keys: readonly EntityKeyValues[],
    nowMs: number,
  ): Promise<readonly Readonly<Record<string, OnlineFeatureValue>>[]>;
}

/** Where captured records go. Never throws: a failure is counted, never felt by the caller. */
export interface CaptureSink {
  put(records: readonly CaptureRecord[]): Promise<{ readonly delivered: number; readonly failed: number }>;
}
