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
  /** JSON object: trained model name → its training state machine's ARN. */
  trainingPipelines: 'TrainingPipelineArns',
} as const;
