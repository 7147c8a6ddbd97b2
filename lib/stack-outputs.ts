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
} as const;

/**
 * Outputs holding JSON (read from the local stack's state `outputs` or DescribeStacks, never given
 * by a flag). Same rule: add, don't rename.
 */
export const STACK_JSON_OUTPUTS = {
  /** Trained model name → its training state machine's ARN. */
  trainingPipelines: 'TrainingPipelineArns',
} as const;
