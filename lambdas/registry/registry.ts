import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { ModelRegistryStore } from './registry-store.js';

/** Environment variable names the registry functions read (set by lib/model-registry.ts). */
export const REGISTRY_ENV = { table: ENV.registryTable, artifactBucket: ENV.artifactBucket } as const;

/** The registry store configured from the environment, as every registry Lambda builds it at cold start. */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): ModelRegistryStore {
  return new ModelRegistryStore({
    documents: documentClient(),
    s3: s3Client(),
    tableName: requireEnv(REGISTRY_ENV.table, env),
    artifactBucket: requireEnv(REGISTRY_ENV.artifactBucket, env),
    ...(env[ENV.trackingTable] ? { trackingTable: env[ENV.trackingTable] } : {}),
  });
}
