/**
 * cdk-nag AwsSolutions findings the project accepts. Each acknowledgement sits beside the
 * construct that causes it and carries its reason; these helpers keep the wording in one place.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

export interface NagFinding {
  /** Rule id without the pack prefix, with the finding in brackets: `IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is acceptable here. */
  readonly reason: string;
}

/** Acknowledges AwsSolutions findings on `scope` (and everything under it). */
export function acknowledge(scope: IConstruct, ...findings: NagFinding[]): void {
  for (const finding of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions-${finding.id}`, reason: finding.reason });
  }
}

/** The `Fn::GetAtt` form nag prints for a function's ARN. */
export function functionArnRef(fn: lambda.IFunction): string {
  const cfn = fn.node.defaultChild;
  if (cfn === undefined) throw new Error(`${fn.node.path} has no CloudFormation resource`);
  return `<${Stack.of(fn).getLogicalId(cfn as never)}.Arn>`;
}

export const XRAY_WILDCARD: NagFinding = {
  id: 'IAM5[Resource::*]',
  reason:
    'X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch Logs delivery actions do not support resource-level permissions.',
};

/** Step Functions' LambdaInvoke grants `<arn>:*` so a task may call a version or alias of that one function. */
export function invokeQualifiedFunction(fn: lambda.IFunction): NagFinding {
  return {
    id: `IAM5[Resource::${functionArnRef(fn)}:*]`,
    reason: `Invoking versions and aliases of ${fn.node.path} only (canary releases invoke aliases).`,
  };
}

/**
 * Findings that CDK's bucket grant methods (grantRead, grantPut, grantReadWrite) raise when scoped
 * to key prefixes: their action wildcards, and one `<bucket>/<prefix>` resource per prefix.
 */
export function prefixedBucketGrants(
  bucket: s3.IBucket,
  prefixes: readonly string[],
  purpose: string,
): NagFinding[] {
  const cfn = bucket.node.defaultChild;
  if (cfn === undefined) throw new Error(`${bucket.node.path} has no CloudFormation resource`);
  const arn = `<${Stack.of(bucket).getLogicalId(cfn as never)}.Arn>`;
  const scope = prefixes.join(', ');
  return [
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map((action) => ({
      id: `IAM5[Action::${action}]`,
      reason: `CDK's grant action set, limited to ${scope} of ${bucket.node.path}.`,
    })),
    ...prefixes.map((prefix) => ({
      id: `IAM5[Resource::${arn}/${prefix}]`,
      reason: `${purpose} (${prefix} only).`,
    })),
  ];
}
