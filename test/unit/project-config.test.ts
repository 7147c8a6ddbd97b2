/**
 * lib/project-config.ts: overrides on the project's mlops.config.ts (the credit-default demo). A
 * views-only override (what most tests and `cdk synth -c mlops='{"featureViews":…}'` give) drops
 * the demo's models, which name views the override took away; models given with it are kept.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/project-config.js';
import projectConfig from '../../mlops.config.js';

const views = [
  {
    name: 'account',
    owner: 'team',
    entities: [{ name: 'account_id', type: 'string' as const }],
    ttlSeconds: 86_400,
    features: [
      { name: 'balance', type: 'float64' as const },
      { name: 'closed', type: 'bool' as const },
    ],
  },
];

describe('resolveConfig overrides', () => {
  it('ships the demo project: its views and the credit-default model', () => {
    const config = resolveConfig();
    expect(config.featureViews.map((v) => v.name)).toEqual(projectConfig.featureViews?.map((v) => v.name));
    expect(config.models.map((m) => m.name)).toEqual(['credit-default']);
  });

  it('replaces the models with none when only the views are overridden', () => {
    const config = resolveConfig({ featureViews: views });
    expect(config.featureViews.map((v) => v.name)).toEqual(['account']);
    expect(config.models).toEqual([]);
    expect(resolveConfig(JSON.stringify({ featureViews: views })).models).toEqual([]);
  });

  it('keeps models given with the views, and the base models when the views are not overridden', () => {
    const model = {
      name: 'closure',
      task: 'binary' as const,
      label: 'account:closed',
      features: ['account:balance'],
      gates: {},
    };
    expect(resolveConfig({ featureViews: views, models: [model] }).models.map((m) => m.name)).toEqual([
      'closure',
    ]);
    expect(resolveConfig({ logRetentionDays: 14 }).models.map((m) => m.name)).toEqual(['credit-default']);
    // Models over the base's views stay checked against them.
    expect(() => resolveConfig({ models: [model] })).toThrow(/names unknown feature view account/);
  });
});
