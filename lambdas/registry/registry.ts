/**
 * The registry stores as the registry Lambdas build them: names read from the environment once per
 * cold start (module scope), stores built per invocation for the principal that invocation records
 * (./principal.ts). Building a store is cheap: the clients are shared process-wide.
 */
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { ModelAliasReader } from './alias-reader.js';
import { ModelAliasStore } from './alias-store.js';
import { configuredModels } from './configured-models.js';
import { ModelRegistryStore } from './registry-store.js';
import { ModelStageStore } from './stage-store.js';

/** Environment variable names the registry functions read (set by lib/model-registry.ts). */
export const REGISTRY_ENV = { table: ENV.registryTable, artifactBucket: ENV.artifactBucket } as const;

/** What Lambda's context tells a registry handler (the part it reads). */
export interface RegistryInvocationContext {
  readonly functionName: string;
}

/** The registry store configured from the environment; `principal` is recorded as `createdBy`. */
export function registryFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): (principal?: string) => ModelRegistryStore {
  const tableName = requireEnv(REGISTRY_ENV.table, env);
  const artifactBucket = requireEnv(REGISTRY_ENV.artifactBucket, env);
  const trackingTable = env[ENV.trackingTable];
  return (principal) =>
    new ModelRegistryStore({
      documents: documentClient(),
      s3: s3Client(),
      tableName,
      artifactBucket,
      ...(trackingTable ? { trackingTable } : {}),
      ...(principal !== undefined ? { principal } : {}),
    });
}

/** Stage stores over the environment's table, gated by the models baked into the bundle. */
export function stageStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): (principal: string) => ModelStageStore {
  const tableName = requireEnv(REGISTRY_ENV.table, env);
  const models = configuredModels();
  return (principal) => new ModelStageStore({ documents: documentClient(), tableName, principal, models });
}

/** Alias stores over the environment's table. */
export function aliasStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): (principal: string) => ModelAliasStore {
  const tableName = requireEnv(REGISTRY_ENV.table, env);
  return (principal) => new ModelAliasStore({ documents: documentClient(), tableName, principal });
}

/** The one-round-trip alias reader over the environment's table (see ./alias-reader.ts). */
export function aliasReaderFromEnv(env: NodeJS.ProcessEnv = process.env): ModelAliasReader {
  return new ModelAliasReader({
    documents: documentClient(),
    tableName: requireEnv(REGISTRY_ENV.table, env),
  });
}
