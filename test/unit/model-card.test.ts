import { describe, expect, it } from 'vitest';
import type { AliasHistoryEntry } from '../../lambdas/registry/alias-store.js';
import { renderModelCard } from '../../lambdas/registry/model-card.js';
import type { ModelVersion } from '../../lambdas/registry/model-version.js';
import type { StageHistoryEntry } from '../../lambdas/registry/stages.js';
import { lineageSchema } from '../../lambdas/registry/version-record.js';

const sha = (c: string) => c.repeat(64);
const version: ModelVersion = {
  modelName: 'churn',
  version: 3,
  stage: 'Production',
  artifact: {
    bucket: 'b',
    key: 'models/churn/sha256/a/model.onnx',
    sha256: sha('a'),
    sizeBytes: 1234,
    s3VersionId: 'v1',
  },
  artifacts: {
    model: {
      bucket: 'b',
      key: 'models/churn/sha256/a/model.onnx',
      sha256: sha('a'),
      sizeBytes: 1234,
      s3VersionId: 'v1',
    },
    evaluationReport: {
      bucket: 'b',
      key: 'models/churn/sha256/e/eval.json',
      sha256: sha('e'),
      sizeBytes: 99,
    },
  },
  signature: {
    inputs: [
      { name: 'tenure', type: 'int64', featureView: 'customer' },
      { name: 'plan', type: 'string' },
    ],
  },
  output: { kind: 'binary', positiveClass: 'churned', threshold: 0.4 },
  metrics: { auc: 0.91, logloss: 0.3 },
  params: { maxDepth: 6, learningRate: 0.1 },
  tags: { team: 'retention' },
  lineage: lineageSchema.parse({
    trainingSet: { manifestKey: 'datasets/churn/h/manifest.json', sha256: sha('d') },
    featureViews: [{ name: 'customer', definitionHash: 'def1' }],
    trainer: { name: 'xgboost', version: '2.1' },
    codeVersion: 'abc123',
    runId: 'run-7',
  }),
  description: 'Predicts churn | next 30 days',
  createdAt: '2026-12-01T10:00:00.000Z',
  createdBy: 'arn:aws:iam::1:role/trainer',
  aliases: ['champion'],
};
const stageHistory: StageHistoryEntry[] = [
  {
    modelName: 'churn',
    version: 3,
    sequence: 1,
    from: 'None',
    to: 'Staging',
    at: 't1',
    by: 'alice',
    reason: 'candidate',
  },
  {
    modelName: 'churn',
    version: 3,
    sequence: 2,
    from: 'Staging',
    to: 'Production',
    at: 't2',
    by: 'bob',
    reason: 'release',
    gates: [
      { gate: 'metric:auc', value: 0.91, threshold: 0.8, comparison: '>=', passed: true },
      { gate: 'maxP95LatencyMs', value: null, threshold: 50, comparison: '<=', passed: false },
    ],
    gateOverride: { reason: 'latency measured offline' },
  },
];
const aliasHistory: AliasHistoryEntry[] = [
  { alias: 'champion', sequence: 4, from: 2, to: 3, at: 't3', by: 'carol', reason: 'promote' },
];

const card = renderModelCard({ version, stageHistory, aliasHistory });

describe('model card', () => {
  it('starts with the model, version and description (table pipes escaped)', () => {
    expect(card.startsWith('# churn version 3\n\nPredicts churn | next 30 days\n')).toBe(true);
    expect(card).toContain(
      '| Production | champion | 2026-12-01T10:00:00.000Z | arn:aws:iam::1:role/trainer |',
    );
  });

  it('lists metrics and params sorted by name', () => {
    expect(card).toContain('| metric | value |\n|---|---|\n| auc | 0.91 |\n| logloss | 0.3 |');
    expect(card).toContain('| learningRate | 0.1 |\n| maxDepth | 6 |');
  });

  it('lists the signature in input order with types and feature views, and the output kind', () => {
    expect(card).toContain('| 1 | tenure | int64 | customer |\n| 2 | plan | string | - |');
    expect(card).toContain('Binary classification: positive class `churned`, threshold 0.4.');
  });

  it('gives the lineage: training set with hash, feature views, trainer, code version and run', () => {
    expect(card).toContain(`| training set | datasets/churn/h/manifest.json (sha256 ${sha('d')}) |`);
    expect(card).toContain('| feature view customer | definition def1 |');
    expect(card).toContain('| trainer | xgboost 2.1 |');
    expect(card).toContain('| codeVersion | abc123 |');
    expect(card).toContain('| runId | run-7 |');
  });

  it('lists every artifact by role with its SHA-256, size and S3 version, the model first', () => {
    expect(card).toContain(
      `| model | models/churn/sha256/a/model.onnx | ${sha('a')} | 1234 | v1 |\n| evaluationReport |`,
    );
    expect(card).toContain(`| evaluationReport | models/churn/sha256/e/eval.json | ${sha('e')} | 99 | - |`);
  });

  it('gives the stage history with who, when, why, each gate result and the override', () => {
    expect(card).toContain('1. **None → Staging** at t1 by `alice`: candidate');
    expect(card).toContain('2. **Staging → Production** at t2 by `bob`: release');
    expect(card).toContain('   - gate passed: metric:auc = 0.91 (must be >= 0.8)');
    expect(card).toContain('   - gate FAILED: maxP95LatencyMs is missing (must be <= 50)');
    expect(card).toContain('   - **gates overridden**: latency measured offline');
  });

  it('gives the alias history with who, when and why', () => {
    expect(card).toContain('- `champion` #4: version 2 → version 3 at t3 by `carol`: promote');
  });

  it('renders the same card for the same state, whatever the key order of the stored maps', () => {
    const reordered = {
      ...version,
      metrics: { logloss: 0.3, auc: 0.91 },
      params: { learningRate: 0.1, maxDepth: 6 },
    };
    expect(renderModelCard({ version: reordered, stageHistory, aliasHistory })).toBe(card);
  });

  it('says what is missing for a bare record registered before signatures and lineage', () => {
    const bare = renderModelCard({
      version: {
        ...version,
        stage: 'None',
        aliases: [],
        description: '',
        metrics: {},
        params: {},
        tags: {},
        lineage: {},
        signature: undefined,
        output: undefined,
      },
      stageHistory: [],
      aliasHistory: [],
    });
    expect(bare).toContain('_No description._');
    expect(bare).toContain('## Metrics\n\n_None recorded._');
    expect(bare).toContain('## Input signature\n\n_Not recorded._');
    expect(bare).toContain('## Lineage\n\n_Not recorded._');
    expect(bare).toContain('## Stage history\n\n_No stage changes yet (registered in None)._');
    expect(bare).toContain('## Alias history\n\n_No alias has pointed at this version._');
  });
});
