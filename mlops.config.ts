/**
 * This project's configuration: read by the CDK app (`cdk deploy`), the `mlops` CLI and the local
 * harness alike, validated by lib/config.ts (a bad value stops synthesis naming its field).
 *
 * It ships a working example, the credit-default demo `npm start` runs end to end (its data comes
 * from local/demo/credit.ts): three feature views keyed by customer — a profile, monthly credit
 * activity, and the outcome to learn (a default within 90 days) — and one model, `credit-default`,
 * trained by the built-in logistic regression on five of their features and gated on ROC-AUC
 * before it may enter Production. `cdk deploy` as it is deploys something that predicts once data
 * is ingested; replace the views and the model with your own.
 */
import { defineConfig } from './lib/config.js';

export default defineConfig({
  stackName: 'ServerlessMlops',
  featureViews: [
    {
      name: 'customer_profile',
      owner: 'credit-risk',
      description: 'What a customer told us when they applied; changes rarely',
      entities: [{ name: 'customer_id', type: 'string' }],
      eventTimeColumn: 'event_time',
      // Slowly changing attributes: the latest value counts, however old.
      ttlSeconds: 'never',
      online: true,
      materializeEveryMinutes: 60,
      features: [
        {
          name: 'income',
          type: 'float64',
          nullable: true,
          min: 0,
          description: 'Yearly income (not always reported)',
        },
        { name: 'age', type: 'int64', min: 18, max: 120 },
        { name: 'employment', type: 'string', categories: ['salaried', 'self-employed', 'unemployed'] },
        { name: 'region', type: 'string', categories: ['north', 'south', 'east', 'west'] },
      ],
      tags: { domain: 'credit' },
    },
    {
      name: 'credit_activity',
      owner: 'credit-risk',
      description: 'Monthly snapshot of a customer’s credit lines',
      entities: [{ name: 'customer_id', type: 'string' }],
      eventTimeColumn: 'event_time',
      // A snapshot older than 45 days is stale: it counts as missing.
      ttlSeconds: 45 * 86_400,
      online: true,
      materializeEveryMinutes: 60,
      features: [
        { name: 'debt_ratio', type: 'float64', min: 0, description: 'Debt payments / income' },
        {
          name: 'utilization',
          type: 'float64',
          nullable: true,
          min: 0,
          description: 'Revolving balance / limit',
        },
        { name: 'late_payments_12m', type: 'int64', min: 0 },
        { name: 'credit_lines', type: 'int64', min: 0 },
      ],
      tags: { domain: 'credit' },
    },
    {
      name: 'credit_outcome',
      owner: 'credit-risk',
      description: 'Whether a customer defaulted within 90 days of the event time (the label)',
      entities: [{ name: 'customer_id', type: 'string' }],
      eventTimeColumn: 'event_time',
      ttlSeconds: 365 * 86_400,
      online: false,
      features: [{ name: 'defaulted_90d', type: 'bool' }],
      tags: { domain: 'credit' },
    },
  ],
  models: [
    {
      name: 'credit-default',
      description: 'Probability that a customer defaults within 90 days',
      task: 'binary',
      label: 'credit_outcome:defaulted_90d',
      features: [
        'customer_profile:income',
        'customer_profile:age',
        'customer_profile:employment',
        'credit_activity:debt_ratio',
        'credit_activity:utilization',
        'credit_activity:late_payments_12m',
      ],
      trainer: { algorithm: 'linear', params: { l2: 1e-2 } },
      split: { testFraction: 0.25, validationFraction: 0.1, seed: 7 },
      windowDays: 365,
      slices: ['customer_profile:region'],
      gates: {
        metrics: [{ metric: 'rocAuc', direction: 'max', threshold: 0.7 }],
        maxArtifactBytes: 1_000_000,
      },
      retraining: { schedule: 'rate(7 days)' },
    },
  ],
  // A retraining (weekly, on drift, or on new data) that passes the gates is deployed through the
  // canary workflow: the closed loop from a drift alarm to the new version serving.
  deployment: { deployRetrained: true },
});
