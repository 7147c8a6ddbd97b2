/**
 * A model's configuration fingerprint: sha256 of the canonical JSON of what decides its training and
 * its verdict (task, label, positive class, features, trainer, split, window, slices, search space
 * and strategy, gates, championMinDelta). Retraining triggers, the description and the search's
 * parallelism change neither, so they are left out: editing them does not make a duplicate
 * trigger retrain.
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
    // What decides a rejection: a run rejected under other gates must not be reused.
    gates: model.gates,
    championMinDelta: model.championMinDelta,
  };
  return createHash('sha256').update(canonicalJson(relevant)).digest('hex');
}
