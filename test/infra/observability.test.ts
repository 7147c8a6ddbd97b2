/**
 * No silent failures (issue 7, items 3, 8, 9): failure destinations and dead-letter queues, alarms,
 * the metric contract between the functions and the constructs, storage settings from
 * configuration, and cdk-nag acknowledgements no wider than their findings.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/shared/env.js';
import { FEATURE_STORE_METRICS, type FeatureStoreMetric } from '../../lambdas/shared/metric-names.js';
import {
  createMetrics,
  recordIngestion,
  recordMaterialization,
  recordOverlapAvoided,
  recordTrainingSet,
} from '../../lambdas/shared/metrics.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import type { FeatureStore } from '../../lib/feature-store.js';
import { acknowledge } from '../../lib/nag.js';
import { type CfnResource, stackOf, synthesize } from '../../local/assembly.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

const NAMESPACE = 'TestMlops';
const overrides = {
  featureViews: testFeatureViews,
  metricsNamespace: NAMESPACE,
  storage: { quarantineExpirationDays: 21, datasetsExpirationDays: 400 },
};

/** An app whose stacks skip bundling (nag and the template do not need the code). */
function fastApp(): App {
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-observability-')),
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  });
}

describe('failures land somewhere alarmed', () => {
  let template: Template;
  let resources: Record<string, CfnResource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const refersTo = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);

  beforeAll(() => {
    const assembly = synthesize((app) => void buildApp(app), {
      context: { mlops: overrides, 'aws:cdk:bundling-stacks': [] },
    });
    const stack = stackOf(assembly);
    template = Template.fromJSON(stack.template);
    resources = stack.template.Resources;
  });

  it('gives every function an EventBridge rule invokes an on-failure SQS destination', () => {
    const invokedByRules = ofType('AWS::Lambda::Function')
      .map(([id]) => id)
      .filter((id) => ofType('AWS::Events::Rule').some(([, rule]) => refersTo(rule.Properties?.Targets, id)));
    expect(invokedByRules.length).toBe(2); // ingestion (landing events) and materialization (schedules)
    for (const id of invokedByRules) {
      const config = ofType('AWS::Lambda::EventInvokeConfig').find(([, c]) =>
        refersTo(c.Properties?.FunctionName, id),
      );
      const destination = (
        config?.[1].Properties?.DestinationConfig as { OnFailure?: { Destination?: unknown } }
      )?.OnFailure?.Destination;
      expect(destination, `${id} has an on-failure destination`).toBeDefined();
      const queue = ofType('AWS::SQS::Queue').find(([queueId]) => refersTo(destination, queueId));
      expect(queue, `${id}'s destination is a queue of the stack`).toBeDefined();
    }
  });

  it('gives every rule target a dead-letter queue', () => {
    const rules = ofType('AWS::Events::Rule');
    expect(rules.length).toBeGreaterThan(0);
    for (const [id, rule] of rules) {
      for (const target of (rule.Properties?.Targets ?? []) as { DeadLetterConfig?: { Arn?: unknown } }[]) {
        expect(target.DeadLetterConfig?.Arn, `${id} target has a DLQ`).toBeDefined();
      }
    }
  });

  it('keeps failure queues encrypted, TLS-only, for 14 days', () => {
    const queues = ofType('AWS::SQS::Queue');
    // ingestion, materialization, the registry events' stream batches, timed-out or aborted training
    // executions not recorded, and retraining triggers not delivered
    expect(queues.length).toBe(5);
    const policies = ofType('AWS::SQS::QueuePolicy');
    for (const [id, queue] of queues) {
      expect(queue.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
      });
      const policy = policies.find(([, p]) => refersTo(p.Properties?.Queues, id));
      expect(JSON.stringify(policy?.[1].Properties?.PolicyDocument)).toContain(
        '"aws:SecureTransport":"false"',
      );
    }
  });

  it('alarms on every function error and every queued failure, to the alarm topic', () => {
    const [[topicId]] = ofType('AWS::SNS::Topic') as [[string, CfnResource]];
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties ?? {});
    const notifying = alarms.filter((a) => refersTo(a.AlarmActions, topicId));
    expect(notifying).toHaveLength(alarms.length);
    for (const [id] of ofType('AWS::Lambda::Function')) {
      expect(
        alarms.some(
          (a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda' && refersTo(a.Dimensions, id),
        ),
        `${id} has an Errors alarm`,
      ).toBe(true);
    }
    for (const [id] of ofType('AWS::SQS::Queue')) {
      expect(
        alarms.some(
          (a) =>
            a.MetricName === 'ApproximateNumberOfMessagesVisible' &&
            a.Threshold === 1 &&
            refersTo(a.Dimensions, id),
        ),
        `${id} has a depth alarm`,
      ).toBe(true);
    }
  });

  it('encrypts the alarm topic with a rotating key CloudWatch may use, and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      }),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
  });

  it('alarms when an online view is not materialized within two schedules (missing data breaches)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: NAMESPACE,
      MetricName: 'WatermarkAge',
      Dimensions: Match.arrayEquals([
        { Name: 'service', Value: 'feature-store' },
        { Name: 'view', Value: 'customer' },
      ]),
      Period: 7200, // the view is materialized hourly
      Threshold: 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    const freshness = ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties?.MetricName === 'WatermarkAge',
    );
    expect(freshness).toHaveLength(1); // merchant is offline only
  });

  it('gives every function the configured metrics namespace', () => {
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const variables =
        (fn.Properties?.Environment as { Variables: Record<string, string> } | undefined)?.Variables ?? {};
      expect(variables[ENV.metricsNamespace], id).toBe(NAMESPACE);
    }
  });

  it('versions the offline bucket and sets its lifecycle from configuration', () => {
    const bucket = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('FeatureStoreOffline'))?.[1];
    expect(bucket?.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    const rules = (
      bucket?.Properties?.LifecycleConfiguration as { Rules: Record<string, unknown>[] } | undefined
    )?.Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'quarantine/', ExpirationInDays: 21 }),
        expect.objectContaining({
          Prefix: 'datasets/',
          ExpirationInDays: 400,
          Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
        }),
        expect.objectContaining({ Prefix: 'landing/', ExpirationInDays: 7 }),
        expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
      ]),
    );
  });

  it('starts ingestion from every object created under landing/<view>/, failures to its queue', () => {
    const landing = ofType('AWS::Events::Rule').find(
      ([, r]) => r.Properties?.EventPattern !== undefined,
    )?.[1];
    expect(landing?.Properties?.EventPattern).toMatchObject({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        object: { key: [{ prefix: 'landing/customer/' }, { prefix: 'landing/merchant/' }] },
      },
    });
    const [target] = (landing?.Properties?.Targets ?? []) as {
      Arn: unknown;
      DeadLetterConfig: { Arn: unknown };
    }[];
    expect(JSON.stringify(target?.Arn)).toMatch(/"FeatureStoreIngest[0-9A-F]{8}"/);
    expect(JSON.stringify(target?.DeadLetterConfig.Arn)).toContain('FeatureStoreIngestFailures');
  });
});

describe('metric contract: what the functions emit is what the constructs read', () => {
  let featureStore: FeatureStore;
  beforeAll(() => {
    featureStore = buildApp(fastApp(), overrides).stack.featureStore;
  });

  interface EmfDocument {
    readonly _aws: {
      readonly CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string; Unit: string }[];
      }[];
    };
    readonly [dimension: string]: unknown;
  }

  /** Everything the recorders emit, as (namespace, name, unit, dimensions) per metric. */
  function emitted(): Map<string, { namespace: string; unit: string; dimensions: Record<string, string> }> {
    const found = new Map<string, { namespace: string; unit: string; dimensions: Record<string, string> }>();
    const take = (record: (m: ReturnType<typeof createMetrics>) => void) => {
      const metrics = createMetrics({ namespace: NAMESPACE, serviceName: 'feature-store' });
      record(metrics);
      const doc = metrics.serializeMetrics() as unknown as EmfDocument;
      for (const directive of doc._aws.CloudWatchMetrics) {
        const dimensions = Object.fromEntries(
          (directive.Dimensions[0] ?? []).map((name) => [name, String(doc[name])]),
        );
        for (const metric of directive.Metrics)
          found.set(metric.Name, { namespace: directive.Namespace, unit: metric.Unit, dimensions });
      }
    };
    take((m) => recordIngestion(m, { view: 'customer', accepted: 3, rejected: 1, duplicate: false }, 12));
    take((m) => recordIngestion(m, { view: 'customer', accepted: 0, rejected: 0, duplicate: true }, 2));
    take((m) =>
      recordMaterialization(
        m,
        { view: 'customer', written: 5, skipped: 1, expired: 0, setAside: 2, toMs: 1_000 },
        40,
        { moved: true, nowMs: 61_000 },
      ),
    );
    take((m) => recordOverlapAvoided(m, 'customer'));
    take((m) => recordTrainingSet(m, 100, 900));
    return found;
  }

  const methods: [string, FeatureStoreMetric, (fs: FeatureStore) => ReturnType<FeatureStore['metric']>][] = [
    ['metricRowsAccepted', 'rowsAccepted', (fs) => fs.metricRowsAccepted('customer')],
    ['metricRowsRejected', 'rowsRejected', (fs) => fs.metricRowsRejected('customer')],
    ['metricBatchesIngested', 'batchesIngested', (fs) => fs.metricBatchesIngested('customer')],
    ['metricDuplicateBatches', 'duplicateBatches', (fs) => fs.metricDuplicateBatches('customer')],
    ['metricIngestDuration', 'ingestDuration', (fs) => fs.metricIngestDuration('customer')],
    ['metricRecordsWritten', 'recordsWritten', (fs) => fs.metricRecordsWritten('customer')],
    ['metricRecordsSkipped', 'recordsSkipped', (fs) => fs.metricRecordsSkipped('customer')],
    ['metricRecordsSetAside', 'recordsSetAside', (fs) => fs.metricRecordsSetAside('customer')],
    ['metricRecordsExpired', 'recordsExpired', (fs) => fs.metricRecordsExpired('customer')],
    ['metricMaterializeDuration', 'materializeDuration', (fs) => fs.metricMaterializeDuration('customer')],
    ['metricOverlapsAvoided', 'overlapsAvoided', (fs) => fs.metricOverlapsAvoided('customer')],
    ['metricWatermarkAge', 'watermarkAge', (fs) => fs.metricWatermarkAge('customer')],
    ['metricTrainingSetRows', 'trainingSetRows', (fs) => fs.metricTrainingSetRows()],
    ['metricTrainingSetDuration', 'trainingSetDuration', (fs) => fs.metricTrainingSetDuration()],
  ];

  it('has a construct method for every metric the functions emit, and nothing else', () => {
    expect(new Set(methods.map(([, key]) => FEATURE_STORE_METRICS[key].name))).toEqual(
      new Set(emitted().keys()),
    );
    expect(methods.map(([, key]) => key).sort()).toEqual(Object.keys(FEATURE_STORE_METRICS).sort());
  });

  it.each(methods)('%s names the metric as emitted: namespace, name, unit, dimensions', (_, key, method) => {
    const metric = method(featureStore);
    const emission = emitted().get(metric.metricName);
    expect(emission, `${metric.metricName} is emitted`).toBeDefined();
    expect(metric.namespace).toBe(emission?.namespace);
    expect(metric.unit).toBe(emission?.unit);
    expect(metric.dimensions).toEqual(emission?.dimensions);
    expect(metric.statistic).toBe(FEATURE_STORE_METRICS[key].statistic);
  });

  it('emits the watermark age only from runs that moved the watermark', () => {
    const metrics = createMetrics({ namespace: NAMESPACE, serviceName: 'feature-store' });
    recordMaterialization(metrics, { view: 'v', written: 0, skipped: 0, expired: 0, toMs: 0 }, 1, {
      moved: false,
      nowMs: 5_000,
    });
    expect(JSON.stringify(metrics.serializeMetrics())).not.toContain('WatermarkAge');
  });
});

describe('cdk-nag: AwsSolutions and Serverless, acknowledgements as narrow as the findings', () => {
  it('fails synthesis when a function role gains a wildcard resource', () => {
    const app = fastApp();
    const { stack } = buildApp(app, overrides);
    stack.featureStore.ingestFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
    );
    expect(() => app.synth()).toThrow(
      /IngestRole\/DefaultPolicy\/Resource .*\n\s*Acknowledge with 'AwsSolutions::AwsSolutions-IAM5\[Resource::\*\]'/,
    );
  });

  it('fails synthesis when a function role gains a wildcard action', () => {
    const app = fastApp();
    const { stack } = buildApp(app, overrides);
    stack.registry.getFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
    );
    expect(() => app.synth()).toThrow(
      /GetModelVersionRole\/DefaultPolicy\/Resource .*\n\s*Acknowledge with 'AwsSolutions::AwsSolutions-IAM5\[Action::s3:\*\]'/,
    );
  });

  it('fails synthesis on an acknowledgement that covers no finding of its role', () => {
    const app = fastApp();
    const { stack } = buildApp(app, overrides);
    acknowledge(stack.featureStore.materializeFunction.executionRole, {
      id: 'IAM5[Action::s3:DeleteObject*]',
      reason: 'Stale acknowledgement: materialization deletes nothing.',
    });
    expect(() => app.synth()).toThrow(/AcknowledgementWithoutFinding/);
  });

  it('runs the Serverless pack: a rule target without a dead-letter queue fails synthesis', () => {
    const app = fastApp();
    const { stack } = buildApp(app, overrides);
    new events.Rule(stack, 'Unwatched', {
      schedule: events.Schedule.rate(stack.featureStore.materializeFunction.timeout ?? ({} as never)),
      targets: [new targets.LambdaFunction(stack.featureStore.materializeFunction)],
    });
    expect(() => app.synth()).toThrow(/Serverless-EventBusDLQ/);
  });

  it('synthesizes the configured app cleanly', () => {
    const app = fastApp();
    buildApp(app, overrides);
    expect(() => app.synth()).not.toThrow();
  });
});
