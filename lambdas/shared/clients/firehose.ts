/** Kinesis Data Firehose clients with the project's settings (see `./settings.ts`). */
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a Firehose client with the project's settings. */
export function createFirehoseClient(settings: ClientSettings = clientSettings()): FirehoseClient {
  return new FirehoseClient(baseConfig(settings));
}

/** The process-wide Firehose client. */
export const firehoseClient = (): FirehoseClient => memo('firehose', () => createFirehoseClient());
