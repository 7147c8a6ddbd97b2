import type { ModelGates } from './gates.js';

/**
 * The configuration's models (promotion gates), as the CDK app validated them, baked into the
 * registry bundles by lib/model-registry.ts (esbuild `define`). An identifier, so it cannot be
 * imported: its name is MODELS_DEFINE in ../shared/layout.ts, and test/unit/layout.test.ts checks
 * the two agree.
 */
declare const __MLOPS_MODELS__: { name: string; gates: ModelGates }[] | undefined;

/** The models a registry function was deployed with (none outside a bundle: every model ungated). */
export function configuredModels(): readonly { readonly name: string; readonly gates: ModelGates }[] {
  return typeof __MLOPS_MODELS__ === 'undefined' ? [] : __MLOPS_MODELS__;
}
