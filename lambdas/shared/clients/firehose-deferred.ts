/**
 * The process-wide Firehose client, with the SDK module imported in the background instead of at
 * module load: the inference function needs Firehose only to capture after a prediction, so its
 * cold start should not wait for the SDK. ./firehose.ts imports the SDK statically, which esbuild
 * hoists into the function's startup; here it is a dynamic import the bundle keeps as one.
 * Calling this starts the import; the promise settles with the very client `firehoseClient()`
 * gives (same settings, same process-wide cache entry).
 */
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import { baseConfig, clientSettings, memo } from './settings.js';

let pending: Promise<FirehoseClient> | undefined;

export function deferredFirehoseClient(): Promise<FirehoseClient> {
  pending ??= import('@aws-sdk/client-firehose').then((sdk) =>
    // The memo key and config ./firehose.ts uses, so both give one client.
    memo('firehose', () => new sdk.FirehoseClient(baseConfig(clientSettings()))),
  );
  return pending;
}
