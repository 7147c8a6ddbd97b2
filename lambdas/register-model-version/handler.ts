import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ModelVersion } from '../registry/model-version.js';
import { invocationPrincipal } from '../registry/principal.js';
import { type RegistryInvocationContext, registryFromEnv } from '../registry/registry.js';
import { logger } from '../shared/logger.js';

const registry = registryFromEnv();

/**
 * Registers a model version (input: RegisterModelVersionInput, plus `execution` when a workflow
 * invokes it) and returns it. `createdBy` is the invoking execution (see registry/principal.ts).
 */
async function registerModelVersion(
  event: unknown,
  context: RegistryInvocationContext,
): Promise<ModelVersion> {
  const { principal, request } = invocationPrincipal(event, context.functionName);
  const version = await registry(principal).registerModelVersion(request);
  logger.info('model version registered', { modelName: version.modelName, version: version.version });
  return version;
}

export const handler = middy(registerModelVersion).use(injectLambdaContext(logger));
