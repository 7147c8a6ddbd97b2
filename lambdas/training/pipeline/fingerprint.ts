/**
 * A model's configuration fingerprint: sha256 of the canonical JSON of what decides its training
 * (task, label, positive class, features, trainer, split, window, slices, search space and strategy).
 * Gates, retraining triggers, the description and the search's parallelism do not change what is
 * trained, so they are left out: editing them does not make a duplicate trigger retrain.
 * An execution is idempotent on (model, dataset hash, fingerprint).
 *
 * Plain code: no AWS SDK.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../registry/model-version.js';
import type { TrainedModelConfig } from '../model-config.js';

export function trainingFingerprint(model: TrainedModelConfig): string {
  const search =
    model.search === undefined
      ? undefined
      : { space: model.search.space, strategy: model.search.strategy, samples: model.search.samples };
  const relevant = {
    task: model.task,
    label: model.label,
    positiveClass: model.positiveClass,
    features: model.features,
    trainer: model.trainer,
    split: model.split,
    windowDays: model.windowDays,
    slices: model.slices,
    search,
  };
  return createHash('sha256').update(canonicalJson(relevant)).digest('hex');
}
