import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ModelVersion } from '../registry/model-version.js';
import { aliasReaderFromEnv, registryFromEnv } from '../registry/registry.js';
import { ValidationError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';

const registry = registryFromEnv()();
const aliases = aliasReaderFromEnv(); // remembers where each alias pointed: one GetItem while it stays

interface GetModelVersionEvent {
  readonly modelName?: unknown;
  readonly version?: unknown;
  readonly alias?: unknown;
}

/** Reads one model version: `{ modelName, version }` or `{ modelName, alias }` (exactly one of the two). */
async function getModelVersion(event: GetModelVersionEvent): Promise<ModelVersion> {
  const byAlias = event?.alias !== undefined;
  if (byAlias && event.version !== undefined)
    throw new ValidationError('alias', 'must not be given with version (name one of the two)');
  return byAlias
    ? aliases.get(event.modelName, event.alias)
    : registry.getModelVersion(event?.modelName, event?.version);
}

export const handler = middy(getModelVersion).use(injectLambdaContext(logger));
