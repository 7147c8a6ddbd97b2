/**
 * Drift and model-quality monitoring (issue 13) in the synthesized template: per served model a
 * schedule invoking the drift function with the window's input, retraining alarms named so the
 * training pipeline's drift rule matches them, data-quality and serving alarms with the configured
 * thresholds, a dashboard; the drift function's grants. And the metric contract (item 7): every
 * metric the drift and serving functions emit is one the alarms or dashboards reference, and every
 * metric they reference in the project's namespace is one the functions emit, with its dimensions.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { RETRAINING_CHECKS } from '../../lambdas/drift/config.js';
import { CAPTURE_PREFIX, retrainingAlarmName, retrainingAlarmPrefix } from '../../lambdas/shared/layout.js';
import {
  DIMENSIONS,
  DRIFT_METRICS,
  FEATURE_STORE_METRICS,
  type MetricSpec,
  SERVICES,
  SERVING_METRICS,
} from '../../lambdas/shared/metric-names.js';
import { driftAlarmPattern } from '../../lambdas/training/pipeline/triggers.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import type { MlopsStack } from '../../lib/mlops-stack.js';
import { trainingModels, trainingViews } from '../fixtures/training.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Json = Record<string, unknown>;

const NAMESPACE = 'DriftMonitorTest';
const churn = trainingModels.find((m) => m.name === 'churn');
const models = [churn, { name: 'scorer', gates: {} }];

let stack: MlopsStack;
let resources: Record<string, Resource>;

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-drift-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  ({ stack } = buildApp(app, {
    featureViews: trainingViews,
    models,
    metricsNamespace: NAMESPACE,
    deployment: { deployRetrained: true },
    monitoring: {
      schedule: 'rate(15 minutes)',
      thresholds: { featurePsi: 0.3, driftShare: 0.4 },
      serving: { latencyP95Ms: 80 },
    },
  }));
  resources = (
    app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, Resource> }
  ).Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const text = (value: unknown) => JSON.stringify(value) ?? '';
const alarms = () => ofType('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties as Json);

describe('DriftMonitors', () => {
  it('schedules one check per served model, the window and thresholds in its input, the scheduled time ending the window', () => {
    const schedules = ofType('AWS::Events::Rule').filter(
      ([, r]) =>
        r.Properties?.ScheduleExpression === 'rate(15 minutes)' &&
        text(r.Properties).includes('windowMinutes'),
    );
    expect(schedules).toHaveLength(2);
    for (const [, rule] of schedules) {
      const [target] = (rule.Properties?.Targets ?? []) as Json[];
      const transformer = target?.InputTransformer as { InputPathsMap: Json; InputTemplate: string };
      expect(transformer.InputPathsMap).toEqual({ time: '$.time' });
      const input = JSON.parse(transformer.InputTemplate.replace('<time>', '"T"')) as Json;
      expect(input).toMatchObject({
        windowMinutes: 15,
        // Firehose's 60 s buffering and a minute's slack: the window ends before the newest capture is due.
        lagSeconds: 120,
        thresholds: { featurePsi: 0.3, driftShare: 0.4, predictionPsi: 0.2, minSamples: 500 },
        time: 'T',
      });
      expect(['churn', 'scorer']).toContain(input.model);
      expect(target?.DeadLetterConfig).toBeDefined();
      expect(target?.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 2 });
    }
  });

  it("names the drift and quality alarms under the model's retraining prefix, so the training drift rule matches them", () => {
    for (const model of ['churn', 'scorer']) {
      const names = alarms()
        .map((a) => a.AlarmName)
        .filter(
          (n): n is string =>
            typeof n === 'string' && n.startsWith(retrainingAlarmPrefix(stack.stackName, model)),
        );
      expect(names.sort()).toEqual(
        Object.values(RETRAINING_CHECKS)
          .map((check) => retrainingAlarmName(stack.stackName, model, check))
          .sort(),
      );
      const pattern = driftAlarmPattern(stack.stackName, model);
      expect((pattern.detail.alarmName as { prefix: string }[])[0]?.prefix).toBe(
        retrainingAlarmPrefix(stack.stackName, model),
      );
    }
    const psi = alarms().find(
      (a) => a.AlarmName === retrainingAlarmName(stack.stackName, 'churn', 'feature-psi'),
    );
    expect(psi).toMatchObject({
      MetricName: DRIFT_METRICS.maxFeaturePsi.name,
      Namespace: NAMESPACE,
      Threshold: 0.3,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Period: 900,
    });
    expect(psi?.AlarmActions).toBeDefined();
  });

  it('alarms on serving health: p95 latency, 5xx rate, and throughput below its anomaly-detection band', () => {
    const p95 = alarms().filter(
      (a) => a.ExtendedStatistic === 'p95' && a.MetricName === SERVING_METRICS.latency.name,
    );
    expect(p95.map((a) => a.Threshold)).toEqual([80, 80]);
    const band = alarms().filter((a) => a.ComparisonOperator === 'LessThanLowerThreshold');
    expect(band).toHaveLength(2);
    for (const alarm of band) {
      expect(text(alarm.Metrics)).toContain('ANOMALY_DETECTION_BAND');
      expect(text(alarm.Metrics)).toContain(SERVING_METRICS.requests.name);
      expect(alarm.ThresholdMetricId).toBeDefined();
    }
    const rate = alarms().filter(
      (a) => text(a.Metrics).includes('100 * FILL(serverErrors, 0) / requests') && a.Threshold === 0.1,
    );
    expect(rate).toHaveLength(2);
  });

  it('builds one dashboard per served model', () => {
    expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(2);
  });

  it('grants the drift function capture reads, report writes, version reads and artifact reads, nothing wider', () => {
    const [, role] =
      ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('DriftCheckRoleDefaultPolicy')) ?? [];
    const statements = ((role?.Properties?.PolicyDocument ?? { Statement: [] }) as { Statement: Json[] })
      .Statement;
    const body = text(statements);
    expect(body).not.toContain('s3:DeleteObject');
    // Which actions apply to which objects: a read the function makes without its grant is a 403.
    const s3Grants = (resource: string) =>
      statements
        .filter((s) => text(s.Resource).includes(resource))
        .flatMap((s) => [s.Action].flat() as string[])
        .filter((a) => a.startsWith('s3:'));
    expect(s3Grants(`/${CAPTURE_PREFIX.capture}*`)).toContain('s3:GetObject*');
    expect(s3Grants(`/${CAPTURE_PREFIX.capture}*`)).not.toContain('s3:PutObject');
    // The report store reads the latest-report pointer before moving it, and writes the reports.
    expect(s3Grants(`/${CAPTURE_PREFIX.reports}*`)).toEqual(
      expect.arrayContaining(['s3:GetObject*', 's3:PutObject']),
    );
    expect(s3Grants('/models/*')).toContain('s3:GetObject*');
    expect(s3Grants('/models/*')).not.toContain('s3:PutObject');
    const actions = statements.flatMap((s) => [s.Action].flat()) as string[];
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:GetItem']);
    expect(actions.filter((a) => a.startsWith('cloudwatch:'))).toEqual([]);
  });
});

/** Every metric the alarms and dashboards reference in the project's namespace: name and dimension names. */
function referencedMetrics(): { name: string; dimensions: string[] }[] {
  const found: { name: string; dimensions: string[] }[] = [];
  const fromMetric = (m: Json | undefined) => {
    if (m?.Namespace !== NAMESPACE) return;
    found.push({
      name: String(m.MetricName),
      dimensions: ((m.Dimensions as { Name: string }[] | undefined) ?? []).map((d) => d.Name).sort(),
    });
  };
  for (const alarm of alarms()) {
    fromMetric(alarm);
    for (const q of (alarm.Metrics as Json[] | undefined) ?? [])
      fromMetric((q.MetricStat as Json | undefined)?.Metric as Json | undefined);
  }
  // Dashboard bodies are Fn::Join of strings: each metric is ["<namespace>","<name>","dim","value",…, {options}].
  for (const [, dashboard] of ofType('AWS::CloudWatch::Dashboard')) {
    const body = text(dashboard.Properties?.DashboardBody).replace(/\\"/g, '"');
    const metricArrays =
      body.match(new RegExp(`\\["${NAMESPACE}","[A-Za-z]+"(,"[A-Za-z]+","[^"]*")*`, 'g')) ?? [];
    for (const array of metricArrays) {
      const parts = [...array.matchAll(/"([^"]*)"/g)].map((m) => m[1] as string);
      const [, name, ...rest] = parts;
      found.push({ name: name as string, dimensions: rest.filter((_, i) => i % 2 === 0).sort() });
    }
  }
  return found;
}

describe('the closed loop: a retraining that reaches Staging is deployed', () => {
  it("with deployment.deployRetrained, a rule on the model's Staging transitions by its training workflow starts its deployment workflow", () => {
    const rules = ofType('AWS::Events::Rule').filter(([id]) => id.includes('OnRetrained'));
    // churn is trained and served; scorer is served only (no training workflow, no rule).
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] as [string, Resource];
    const pattern = rule.Properties?.EventPattern as { detail: Json };
    expect(pattern.detail.modelName).toEqual(['churn']);
    expect(pattern.detail.to).toEqual(['Staging']);
    expect(text(pattern.detail.by)).toContain(':execution:');
    expect(text(pattern.detail.by)).toContain('TrainingPipelinechurn');
    const [target] = (rule.Properties?.Targets ?? []) as Json[];
    expect(text(target?.Arn)).toContain('DeploymentModelchurnStateMachine');
    expect(text(target?.InputTransformer)).toContain('$.detail.version');
    expect(target?.DeadLetterConfig).toBeDefined();
  });
});

describe('the metric contract (item 7)', () => {
  const emitted: MetricSpec[] = [...Object.values(SERVING_METRICS), ...Object.values(DRIFT_METRICS)];
  const dimensionSets = (spec: MetricSpec) =>
    [spec.dimensions, ...(spec.rollups ?? [])].map((set) => [...set].sort().join());

  it('every metric the drift and serving functions emit is referenced by an alarm or a dashboard', () => {
    const referenced = new Set(referencedMetrics().map((m) => m.name));
    expect(emitted.map((s) => s.name).filter((name) => !referenced.has(name))).toEqual([]);
  });

  it('every metric an alarm or dashboard references is emitted, under one of its dimension sets', () => {
    // The feature store's alarms (freshness) reference its own metrics, in the same namespace.
    const specs = new Map([...emitted, ...Object.values(FEATURE_STORE_METRICS)].map((s) => [s.name, s]));
    const wrong = referencedMetrics().filter((m) => {
      const spec = specs.get(m.name);
      return spec === undefined || !dimensionSets(spec).includes(m.dimensions.join());
    });
    expect(wrong).toEqual([]);
    // And the drift metrics carry the drift service, the serving ones the inference service.
    expect(text(alarms())).toContain(SERVICES.drift);
    expect(DRIFT_METRICS.featurePsi.dimensions).toContain(DIMENSIONS.feature);
  });
});
