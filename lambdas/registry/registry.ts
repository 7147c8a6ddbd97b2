import { clients } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { ModelRegistryStore } from './registry-store.js';

/** Environment variable names the registry functions read (set by lib/model-registry.ts). */
export const REGISTRY_ENV = { table: 'REGISTRY_TABLE', artifactBucket: 'ARTIFACT_BUCKET' } as const;

/** The registry store configured from the environment, as every registry Lambda builds it at cold start. */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): ModelRegistryStore {
  return new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: requireEnv(REGISTRY_ENV.table, env),
    artifactBucket: requireEnv(REGISTRY_ENV.artifactBucket, env),
  });
}
