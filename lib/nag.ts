/**
 * cdk-nag findings the project accepts (AwsSolutions and Serverless packs). Each acknowledgement
 * sits beside the construct that causes it and carries its reason; these helpers keep the wording
 * in one place. Acknowledgements are as narrow as the finding: IAM5 findings are acknowledged one
 * by one (`IAM5[Action::s3:List*]`, `IAM5[Resource::<arn>/prefix/*]`), and {@link AcknowledgementAudit}
 * fails synthesis when an IAM5 acknowledgement names a finding its scope does not have, so an
 * acknowledgement cannot quietly cover a permission added later.
 */
import {
  CfnResource,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { NagRuleCompliance, rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The cdk-nag packs the app runs (lib/app.ts). */
export type NagPackName = 'AwsSolutions' | 'Serverless';

export interface NagFinding {
  /** Rule id without the pack prefix, with the finding in brackets: `IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is acceptable here. */
  readonly reason: string;
  /** @default 'AwsSolutions' */
  readonly pack?: NagPackName;
}

/** Acknowledges cdk-nag findings on `scope` (and everything under it). */
export function acknowledge(scope: IConstruct, ...findings: NagFinding[]): void {
  for (const finding of findings) {
    Validations.of(scope).acknowledge({
      id: `${finding.pack ?? 'AwsSolutions'}-${finding.id}`,
      reason: finding.reason,
    });
  }
}

/** The `Fn::GetAtt` form nag prints for a function's ARN. */
export function functionArnRef(fn: lambda.IFunction): string {
  const cfn = fn.node.defaultChild;
  if (cfn === undefined) throw new Error(`${fn.node.path} has no CloudFormation resource`);
  return `<${Stack.of(fn).getLogicalId(cfn as never)}.Arn>`;
}

/** X-Ray (and a state machine's log delivery) grant `*`: those actions take no resource. */
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

/** Which prefix-scoped grants a principal got on a bucket (CDK's grantRead, grantPut, grantDelete). */
export interface PrefixedGrants {
  readonly read?: readonly string[];
  readonly put?: readonly string[];
  readonly delete?: readonly string[];
}

/**
 * The IAM5 findings that CDK's bucket grant methods raise when scoped to key prefixes: the action
 * wildcards of the grants actually made (grantRead: `s3:GetObject*`, `s3:GetBucket*`, `s3:List*`;
 * grantPut: `s3:Abort*`; grantDelete: `s3:DeleteObject*`), and one `<bucket>/<prefix>` resource per
 * prefix.
 */
export function prefixedBucketGrants(
  bucket: s3.IBucket,
  grants: PrefixedGrants,
  purpose: string,
): NagFinding[] {
  const cfn = bucket.node.defaultChild;
  if (cfn === undefined) throw new Error(`${bucket.node.path} has no CloudFormation resource`);
  const arn = `<${Stack.of(bucket).getLogicalId(cfn as never)}.Arn>`;
  const read = grants.read ?? [];
  const put = grants.put ?? [];
  const del = grants.delete ?? [];
  const actions = [
    ...(read.length > 0 ? ['s3:GetObject*', 's3:GetBucket*', 's3:List*'] : []),
    ...(put.length > 0 ? ['s3:Abort*'] : []),
    ...(del.length > 0 ? ['s3:DeleteObject*'] : []),
  ];
  const prefixes = [...new Set([...read, ...put, ...del])];
  const scope = prefixes.join(', ');
  return [
    ...actions.map((action) => ({
      id: `IAM5[Action::${action}]`,
      reason: `CDK's grant action set, limited to ${scope} of ${bucket.node.path}.`,
    })),
    ...prefixes.map((prefix) => ({
      id: `IAM5[Resource::${arn}/${prefix}]`,
      reason: `${purpose} (${prefix} only).`,
    })),
  ];
}

const IAM5 = /^AwsSolutions-IAM5\[(.+)\]$/;

/**
 * A validation plugin that fails synthesis when an IAM5 acknowledgement covers no finding of its
 * scope (the construct it is attached to and everything under it): acknowledgements stay as narrow
 * as the permissions, and a stale one is noticed. The findings are cdk-nag's own (its IAM5 rule).
 */
export class AcknowledgementAudit implements IPolicyValidationPlugin {
  readonly name = 'AcknowledgementAudit';

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const violations: PolicyViolation[] = [];
    for (const scope of context.appConstruct.node.findAll()) {
      for (const id of acknowledgedIds(scope)) {
        const finding = IAM5.exec(id)?.[1];
        if (finding === undefined) continue;
        if (iam5Findings(scope).has(finding)) continue;
        violations.push({
          ruleName: 'AcknowledgementWithoutFinding',
          description: `${id} is acknowledged on ${scope.node.path}, which has no such finding: remove the acknowledgement or narrow it to what the policies grant.`,
          violatingResources: [{ constructPath: scope.node.path, locations: ['Metadata'] }],
        });
      }
    }
    return { success: violations.length === 0, violations };
  }
}

function acknowledgedIds(scope: IConstruct): string[] {
  return scope.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
    .map((key) => key.replace(/^annotation::/i, ''));
}

const findingsCache = new WeakMap<IConstruct, Set<string>>();

/** cdk-nag's IAM5 findings of every IAM resource under `scope`. */
function iam5Findings(scope: IConstruct): Set<string> {
  const cached = findingsCache.get(scope);
  if (cached) return cached;
  const found = new Set<string>();
  for (const node of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    const result = rules.iam.IAMNoWildcardPermissions(node);
    if (Array.isArray(result)) for (const finding of result) found.add(finding);
    else if (result === NagRuleCompliance.NON_COMPLIANT) found.add('*');
  }
  findingsCache.set(scope, found);
  return found;
}
