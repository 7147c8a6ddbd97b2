import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { MlopsConfig } from './config.js';

export interface MlopsStackProps extends StackProps {
  /** The validated project configuration. */
  readonly config: MlopsConfig;
}

/** The whole serverless-mlops deployment: one construct per capability, composed here. */
export class MlopsStack extends Stack {
  public readonly config: MlopsConfig;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id, {
      description: 'serverless-mlops: the production lifecycle of a tabular model',
      ...props,
    });
    this.config = props.config;
  }

  /** Removal policy for stateful resources, from configuration. */
  get statefulRemovalPolicy(): RemovalPolicy {
    return this.config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  }
}
