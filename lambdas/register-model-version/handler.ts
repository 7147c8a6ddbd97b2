import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ModelVersion } from '../registry/model-version.js';
import { registryFromEnv } from '../registry/registry.js';
import { logger } from '../shared/logger.js';

const registry = registryFromEnv();

/** Registers a model version (input: RegisterModelVersionInput) and returns it. */
async function registerModelVersion(event: unknown): Promise<ModelVersion> {
  const version = await registry.registerModelVersion(event);
  logger.info('model version registered', { modelName: version.modelName, version: version.version });
  return version;
}

export const handler = middy(registerModelVersion).use(injectLambdaContext(logger));
