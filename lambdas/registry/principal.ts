/**
 * Who a registry change is recorded as (`createdBy`, history `by`).
 *
 * - The CLI (and any library caller) passes the caller's IAM principal ARN, resolved with STS
 *   GetCallerIdentity when talking to AWS, or `local` against the local stack
 *   (bin/cli/principal.ts).
 * - A registry Lambda cannot see who invoked it (Lambda passes no caller identity), so it records
 *   the Step Functions execution that invoked it: the workflow definition passes `$$.Execution.Id`
 *   as `execution`, merged over the request so no input can replace it. Invoking the functions is
 *   IAM-controlled (only the stack's state machines are granted it), so the field names the
 *   execution ARN, checked for shape; a direct invocation without it is recorded as
 *   `lambda:<function name>`.
 */
import { ValidationError } from '../shared/errors.js';

/** The event field a workflow sets to its execution ARN. */
export const EXECUTION_FIELD = 'execution';

/** A Step Functions execution ARN (standard or express). */
export const EXECUTION_ARN =
  /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(?:execution|express):[A-Za-z0-9_.-]{1,80}:[A-Za-z0-9_.:-]{1,120}$/;

/**
 * Splits a registry Lambda's event into the request and the principal to record: the execution
 * ARN when a workflow passed one, else `lambda:<functionName>`.
 */
export function invocationPrincipal(
  event: unknown,
  functionName: string,
): { principal: string; request: unknown } {
  if (typeof event !== 'object' || event === null || Array.isArray(event) || !(EXECUTION_FIELD in event))
    return { principal: `lambda:${functionName}`, request: event };
  const { [EXECUTION_FIELD]: execution, ...request } = event as Record<string, unknown>;
  if (typeof execution !== 'string' || !EXECUTION_ARN.test(execution))
    throw new ValidationError(EXECUTION_FIELD, 'must be a Step Functions execution ARN ($$.Execution.Id)');
  return { principal: execution, request };
}
