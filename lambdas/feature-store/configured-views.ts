import { defineFeatureView, type FeatureView, type FeatureViewInput } from './feature-view.js';

/**
 * The feature view definitions the CDK app validated, baked into the bundle by lib/feature-store.ts
 * (esbuild `define`). An identifier, so it cannot be imported: its name is FEATURE_VIEWS_DEFINE in
 * ../shared/layout.ts, and test/unit/layout.test.ts checks the two agree.
 */
declare const __MLOPS_FEATURE_VIEWS__: FeatureViewInput[] | undefined;

/** The views a feature-store function was deployed with, by name (none outside a bundle). */
export function configuredViews(): Map<string, FeatureView> {
  const inputs = typeof __MLOPS_FEATURE_VIEWS__ === 'undefined' ? [] : __MLOPS_FEATURE_VIEWS__;
  return new Map(inputs.map((input) => [input.name, defineFeatureView(input)]));
}
