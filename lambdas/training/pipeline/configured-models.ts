import { NotFoundError } from '../../shared/errors.js';
import type { TrainedModelConfig } from '../model-config.js';

/**
 * The configuration's trained models (task, label, features, trainer, split, gates, retraining), as
 * the CDK app validated them, baked into the training pipeline's bundles by lib/training-pipeline.ts
 * (esbuild `define`). Its name is TRAINED_MODELS_DEFINE in ../../shared/layout.ts.
 */
declare const __MLOPS_TRAINED_MODELS__: TrainedModelConfig[] | undefined;

/** The trained models a pipeline function was deployed with (none outside a bundle). */
export function configuredTrainedModels(): readonly TrainedModelConfig[] {
  return typeof __MLOPS_TRAINED_MODELS__ === 'undefined' ? [] : __MLOPS_TRAINED_MODELS__;
}

/** One configured trained model by name; NotFoundError('model') when the bundle has no such model. */
export function configuredTrainedModel(
  name: string,
  models: readonly TrainedModelConfig[] = configuredTrainedModels(),
): TrainedModelConfig {
  const model = models.find((m) => m.name === name);
  if (model === undefined)
    throw new NotFoundError(
      `trained model ${name} (this deployment trains ${models.map((m) => m.name).join(', ') || 'none'})`,
      {
        field: 'model',
      },
    );
  return model;
}
