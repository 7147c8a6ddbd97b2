import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { ModelAliasStore } from '../registry/alias-store.js';
import { registryFromEnv } from '../registry/registry.js';
import { ModelStageStore } from '../registry/stage-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { eventBridgeClient } from '../shared/clients/eventbridge.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { ModelCardWriter } from './card-writer.js';
import { publishRecords, type StreamBatchResponse } from './publisher.js';
import type { RegistryStreamRecord } from './registry-events.js';

const tableName = requireEnv(ENV.registryTable);
const busName = requireEnv(ENV.eventBus);
const cards = new ModelCardWriter({
  // Reads only: no principal is ever recorded by this function.
  registry: registryFromEnv()(),
  stages: new ModelStageStore({ documents: documentClient(), tableName }),
  aliases: new ModelAliasStore({ documents: documentClient(), tableName }),
  s3: s3Client(),
  bucket: requireEnv(ENV.artifactBucket),
});
/** Event ids this instance has published (see publisher.ts): kept while the instance is warm. */
const recentIds = new Set<string>();

interface StreamEvent {
  readonly Records: RegistryStreamRecord[];
}

/** Publishes the registry events of a batch of the registry table's stream and rewrites the cards. */
async function onRegistryChanges(event: StreamEvent): Promise<StreamBatchResponse> {
  return publishRecords(event.Records, {
    eventBridge: eventBridgeClient(),
    busName,
    writeCard: async (model, version) => {
      await cards.write(model, version);
    },
    recentIds,
    onFailure: (error, record) =>
      logger.error('registry change not published; Lambda delivers again from it', {
        error,
        sequenceNumber: record.dynamodb?.SequenceNumber,
      }),
  });
}

export const handler = middy(onRegistryChanges).use(injectLambdaContext(logger));
