/** How long a model's training execution may run (plain code: the construct and Prepare share it). */
import type { TrainedModelConfig } from '../model-config.js';
import { TRAINING_TIMEOUT_MS } from './contract.js';
import { expandCandidates } from './search-space.js';

/** One candidate's longest training: TrainCandidate's Lambda time limit. */
const CANDIDATE_MS = 15 * 60 * 1000;

/**
 * An execution's time limit (the state machine's timeout, and the lease): the built-in allowance,
 * plus a SageMaker model's `maxRuntimeSeconds`, plus for a search one candidate's longest training
 * per round of `parallelism` candidates, so a configured search can always finish.
 */
export function trainingTimeoutMs(model: TrainedModelConfig): number {
  if (model.trainer.algorithm === 'sagemaker')
    return TRAINING_TIMEOUT_MS + model.trainer.maxRuntimeSeconds * 1000;
  if (model.search === undefined) return TRAINING_TIMEOUT_MS;
  const rounds = Math.ceil(expandCandidates(model).length / model.search.parallelism);
  return TRAINING_TIMEOUT_MS + rounds * CANDIDATE_MS;
}
