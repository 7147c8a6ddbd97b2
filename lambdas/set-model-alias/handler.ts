import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { AliasSetResult } from '../registry/alias-store.js';
import { invocationPrincipal } from '../registry/principal.js';
import { aliasStoreFromEnv, type RegistryInvocationContext } from '../registry/registry.js';
import { logger } from '../shared/logger.js';

const aliases = aliasStoreFromEnv();

/**
 * Sets, moves or deletes an alias with compare-and-set (input: SetAliasInput — modelName, alias,
 * version (null deletes), expectedVersion (null: expects it unset), reason? — plus `execution` when
 * a workflow invokes it) and returns the alias history entry written (`changed: true`), or the
 * current state with `changed: false` when the alias already points at `version` (nothing written).
 * Refusals: ValidationError, NotFoundError (`field`: modelName, alias (deleting an unset alias) or
 * version), ConflictError (the alias is not at expectedVersion; the message names where it is).
 */
async function setModelAlias(event: unknown, context: RegistryInvocationContext): Promise<AliasSetResult> {
  const { principal, request } = invocationPrincipal(event, context.functionName);
  const entry = await aliases(principal).set(request);
  logger.info(entry.changed ? 'model alias changed' : 'model alias already there', {
    alias: entry.alias,
    from: entry.from,
    to: entry.to,
    by: principal,
  });
  return entry;
}

export const handler = middy(setModelAlias).use(injectLambdaContext(logger));
