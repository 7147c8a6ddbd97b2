/**
 * The stack's outputs, by the names the `mlops` CLI looks up (CloudFormation DescribeStacks) to
 * find the deployed resources. Changing a name breaks CLIs of deployed stacks: add, don't rename.
 */
export const STACK_OUTPUTS = {
  offlineBucket: 'FeatureStoreOfflineBucketName',
  onlineTable: 'FeatureStoreOnlineTableName',
  registryTable: 'ModelRegistryTableName',
  artifactBucket: 'ModelRegistryArtifactBucketName',
  trackingTable: 'ModelRegistryTrackingTableName',
  /** The inference API's base URL (its stage's, ending in `/`); only when a model is served. */
  inferenceApiUrl: 'InferenceApiUrl',
  /** Bucket of captured predictions and feedback (`capture/<model>/…`); only when a model is served. */
  captureBucket: 'InferenceCaptureBucketName',
  /** Id of the inference API's key (`serving.auth` = `apiKey` only; read its value with apigateway:GetApiKey). */
  inferenceApiKeyId: 'InferenceApiKeyId',
  /** The drift check function's name (lib/drift-monitor.ts); only when a model is served. */
  driftCheckFunction: 'DriftCheckFunctionName',
} as const;

/**
 * Outputs holding JSON (read from the local stack's state `outputs` or DescribeStacks, never given
 * by a flag). Same rule: add, don't rename.
 */
export const STACK_JSON_OUTPUTS = {
  /** Trained model name → its training state machine's ARN. */
  trainingPipelines: 'TrainingPipelineArns',
  /** Served model name → { functionName, aliasArn (the `live` alias), captureStream (Firehose stream name) }. */
  inferenceFunctions: 'InferenceFunctions',
  /** Served model name → its deployment (canary) state machine's ARN. */
  deploymentWorkflows: 'DeploymentWorkflowArns',
} as const;

/** One entry of {@link STACK_JSON_OUTPUTS.inferenceFunctions}. */
export interface InferenceFunctionOutput {
  readonly functionName: string;
  readonly aliasArn: string;
  readonly captureStream: string;
}
