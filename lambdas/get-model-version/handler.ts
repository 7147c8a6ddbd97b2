import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ModelVersion } from '../registry/model-version.js';
import { registryFromEnv } from '../registry/registry.js';
import { logger } from '../shared/logger.js';

const registry = registryFromEnv();

interface GetModelVersionEvent {
  readonly modelName?: unknown;
  readonly version?: unknown;
}

/** Reads one model version: `{ modelName, version }`. */
async function getModelVersion(event: GetModelVersionEvent): Promise<ModelVersion> {
  return registry.getModelVersion(event?.modelName, event?.version);
}

export const handler = middy(getModelVersion).use(injectLambdaContext(logger));
