import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/shared/layout.js';
import { isTrained } from '../lambdas/training/model-config.js';
import { type MlopsConfig, servedModels } from './config.js';
import { DeploymentWorkflows } from './deployment-workflow.js';
import { DriftMonitors } from './drift-monitor.js';
import { ExperimentCheck } from './experiment-check.js';
import { FeatureStore } from './feature-store.js';
import { InferenceApi } from './inference-api.js';
import { MlopsFunction } from './mlops-function.js';
import { ModelRegistrationWorkflow } from './model-registration-workflow.js';
import { ModelRegistry } from './model-registry.js';
import { Monitoring } from './monitoring.js';
import { acknowledge } from './nag.js';
import { secureBucket } from './secure-bucket.js';
import { type InferenceFunctionOutput, STACK_JSON_OUTPUTS, STACK_OUTPUTS } from './stack-outputs.js';
import { TrainingPipelines } from './training-pipeline.js';
import { RetrainingTriggers } from './training-triggers.js';

export interface MlopsStackProps extends StackProps {
  /** The validated project configuration. */
  readonly config: MlopsConfig;
}

/** The whole serverless-mlops deployment: one construct per capability, composed here. */
export class MlopsStack extends Stack {
  public readonly config: MlopsConfig;
  /** Destination of every bucket's server access logs. */
  public readonly accessLogsBucket: s3.Bucket;
  public readonly registry: ModelRegistry;
  public readonly featureStore: FeatureStore;
  public readonly registrationWorkflow: ModelRegistrationWorkflow;
  /** Training: the step functions and one state machine per trained model. */
  public readonly training: TrainingPipelines;
  /** What retrains each model: its schedule, its drift alarms, new rows for its views. */
  public readonly retraining: RetrainingTriggers;
  /** The alarm topic and every alarm of the stack. */
  public readonly monitoring: Monitoring;
  /** The project's one event bus: every event the stack emits (source `serverless-mlops`). */
  public readonly eventBus: events.EventBus;
  /** Serving: absent when the configuration serves no model. */
  public readonly inference?: InferenceApi;
  /** The served models' deployment (canary) workflows. */
  public readonly deployments?: DeploymentWorkflows;
  /** The scheduled A/B experiment check (reports verdicts; promotes or stops auto-promoting experiments). */
  public readonly experimentCheck?: ExperimentCheck;
  /** Drift monitoring of the served models (absent when nothing is served). */
  public readonly drift?: DriftMonitors;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id, {
      description: 'serverless-mlops: the production lifecycle of a tabular model',
      ...props,
    });
    this.config = props.config;
    const removalPolicy =
      props.config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.accessLogsBucket = secureBucket(this, 'AccessLogs', {
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    acknowledge(this.accessLogsBucket, {
      id: 'S1',
      reason: 'This is the server access log destination; logging it into itself would loop.',
    });

    this.monitoring = new Monitoring(this, 'Monitoring', { removalPolicy });

    this.eventBus = new events.EventBus(this, 'EventBus', {
      description: 'serverless-mlops events: registry changes, training, canaries, drift',
    });

    this.registry = new ModelRegistry(this, 'ModelRegistry', {
      eventBus: this.eventBus,
      monitoring: this.monitoring,
      accessLogsBucket: this.accessLogsBucket,
      removalPolicy,
      logRetention: props.config.logRetentionDays,
      models: props.config.models,
    });
    this.featureStore = new FeatureStore(this, 'FeatureStore', {
      featureViews: props.config.featureViews,
      accessLogsBucket: this.accessLogsBucket,
      removalPolicy,
      logRetention: props.config.logRetentionDays,
      storage: props.config.storage,
      metricsNamespace: props.config.metricsNamespace,
      monitoring: this.monitoring,
    });
    new CfnOutput(this, STACK_OUTPUTS.offlineBucket, {
      value: this.featureStore.offlineBucket.bucketName,
      description: 'Feature store offline bucket (the mlops CLI reads it)',
    });
    new CfnOutput(this, STACK_OUTPUTS.onlineTable, {
      value: this.featureStore.onlineTable.tableName,
      description: 'Feature store online table (the mlops CLI reads it)',
    });
    new CfnOutput(this, STACK_OUTPUTS.registryTable, {
      value: this.registry.table.tableName,
      description: 'Model registry table (the mlops CLI reads it)',
    });
    new CfnOutput(this, STACK_OUTPUTS.artifactBucket, {
      value: this.registry.artifactBucket.bucketName,
      description: 'Model artifact bucket, model cards included (the mlops CLI reads it)',
    });
    new CfnOutput(this, STACK_OUTPUTS.trackingTable, {
      value: this.registry.trackingTable.tableName,
      description: 'Experiment-tracking table (the mlops runs commands read it)',
    });

    this.registrationWorkflow = new ModelRegistrationWorkflow(this, 'ModelRegistrationWorkflow', {
      registry: this.registry,
      logRetention: props.config.logRetentionDays,
      removalPolicy,
    });

    this.training = new TrainingPipelines(this, 'Training', {
      models: props.config.models.filter(isTrained),
      featureViews: props.config.featureViews,
      featureStore: this.featureStore,
      registry: this.registry,
      eventBus: this.eventBus,
      monitoring: this.monitoring,
      logRetention: props.config.logRetentionDays,
      removalPolicy,
    });
    new CfnOutput(this, STACK_JSON_OUTPUTS.trainingPipelines, {
      value: this.toJsonString(
        Object.fromEntries(
          [...this.training.pipelines].map(([name, p]) => [name, p.stateMachine.stateMachineArn]),
        ),
      ),
      description: 'Trained model name → its training state machine (the mlops train commands read it)',
    });

    this.retraining = new RetrainingTriggers(this, 'RetrainingTriggers', {
      models: [...this.training.pipelines.values()].map((p) => ({
        config: p.model,
        stateMachine: p.stateMachine,
      })),
      offlineBucket: this.featureStore.offlineBucket,
      trackingTable: this.registry.trackingTable,
      monitoring: this.monitoring,
      logRetention: props.config.logRetentionDays,
      removalPolicy,
    });

    const served = servedModels(props.config);
    if (served.length > 0) {
      const inference = new InferenceApi(this, 'Inference', {
        models: served,
        serving: props.config.serving,
        featureViews: props.config.featureViews,
        registry: this.registry,
        featureStore: this.featureStore,
        monitoring: this.monitoring,
        accessLogsBucket: this.accessLogsBucket,
        metricsNamespace: props.config.metricsNamespace,
        logRetention: props.config.logRetentionDays,
        removalPolicy,
      });
      this.inference = inference;
      new CfnOutput(this, STACK_OUTPUTS.inferenceApiUrl, {
        value: inference.url,
        description: 'Inference API base URL (mlops predict and the README examples call it)',
      });
      new CfnOutput(this, STACK_OUTPUTS.captureBucket, {
        value: inference.captureBucket.bucketName,
        description: 'Captured predictions and feedback, capture/<model>/date=…/hour=…/',
      });
      if (inference.apiKey)
        new CfnOutput(this, STACK_OUTPUTS.inferenceApiKeyId, {
          value: inference.apiKey.keyId,
          description: 'Inference API key id (aws apigateway get-api-key --include-value)',
        });
      new CfnOutput(this, STACK_JSON_OUTPUTS.inferenceFunctions, {
        value: this.toJsonString(
          Object.fromEntries(
            [...inference.models].map(([name, m]): [string, InferenceFunctionOutput] => [
              name,
              {
                functionName: m.function.functionName,
                aliasArn: m.alias.functionArn,
                captureStream: m.captureStream.deliveryStreamName,
              },
            ]),
          ),
        ),
        description: 'Served model name → its inference function, live alias ARN and capture stream',
      });
      const deployments = new DeploymentWorkflows(this, 'Deployment', {
        inference,
        trainingStateMachines: new Map(
          [...this.training.pipelines].map(([name, p]) => [name, p.stateMachine]),
        ),
        eventBus: this.eventBus,
        registry: this.registry,
        monitoring: this.monitoring,
        config: props.config,
        logRetention: props.config.logRetentionDays,
        removalPolicy,
      });
      this.deployments = deployments;
      new CfnOutput(this, STACK_JSON_OUTPUTS.deploymentWorkflows, {
        value: this.toJsonString(
          Object.fromEntries(
            [...deployments.workflows].map(([name, w]) => [name, w.stateMachine.stateMachineArn]),
          ),
        ),
        description: 'Served model name → its deployment (canary) state machine ARN (mlops deploy starts it)',
      });
      this.experimentCheck = new ExperimentCheck(this, 'ExperimentCheck', {
        workflows: new Map([...deployments.workflows].map(([name, w]) => [name, w.stateMachine])),
        registry: this.registry,
        monitoring: this.monitoring,
        config: props.config.experiments,
        logRetention: props.config.logRetentionDays,
        removalPolicy,
      });
      this.drift = new DriftMonitors(this, 'Drift', {
        inference,
        registry: this.registry,
        monitoring: this.monitoring,
        config: props.config.monitoring,
        metricsNamespace: props.config.metricsNamespace,
        features: new Map(
          props.config.models.map((m) => [m.name, (m.features ?? []).map((ref) => ref.split(':')[1] ?? ref)]),
        ),
        logRetention: props.config.logRetentionDays,
        removalPolicy,
      });
      new CfnOutput(this, STACK_OUTPUTS.driftCheckFunction, {
        value: this.drift.checkFunction.functionName,
        description: 'The drift check function (mlops drift check invokes it)',
      });
    }

    // Every function: the configured metrics namespace, and an alarm on its errors.
    for (const fn of this.node.findAll().filter((c): c is MlopsFunction => c instanceof MlopsFunction)) {
      fn.addEnvironment(ENV.metricsNamespace, props.config.metricsNamespace);
      this.monitoring.alarmOnErrors(fn);
    }
  }
}
