/**
 * What the candidate-handling steps (TrainCandidate, UnpackSagemakerModel, EvaluateCandidates)
 * are wired to in a Lambda: the offline store, the artifact bucket and the tracking store, from
 * the environment the construct sets (lib/training-pipeline.ts). One home for that wiring.
 */
import { TrackingStore } from '../../registry/tracking-store.js';
import { documentClient } from '../../shared/clients/dynamodb.js';
import { s3Client } from '../../shared/clients/s3.js';
import { requireEnv } from '../../shared/env.js';
import { ENV } from '../../shared/layout.js';
import { S3ObjectStore } from '../../shared/object-store.js';
import type { CandidateDeps } from './candidate.js';

export interface StepDeps extends CandidateDeps {
  readonly artifactBucket: string;
  readonly offline: S3ObjectStore;
  readonly artifacts: S3ObjectStore;
}

export function stepDepsFromEnv(env: NodeJS.ProcessEnv = process.env): StepDeps {
  const artifactBucket = requireEnv(ENV.artifactBucket, env);
  return {
    artifactBucket,
    offline: new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket, env)),
    artifacts: new S3ObjectStore(s3Client(), artifactBucket),
    tracking: new TrackingStore({
      documents: documentClient(),
      s3: s3Client(),
      tableName: requireEnv(ENV.trackingTable, env),
      artifactBucket,
    }),
  };
}
