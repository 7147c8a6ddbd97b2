/**
 * What API Gateway's request validator does with a body, for the local adapter: the body of a
 * method whose request model is {@link BodySchema} (lambdas/serving/contract.ts: the same schema
 * objects lib/inference-api.ts gives the gateway) is parsed as JSON and checked against it; any
 * failure is a BAD_REQUEST_BODY refusal (400, code InvalidRequest) before the function runs.
 *
 * Only the draft-4 keywords the schemas use are implemented: `type` (object, array), `required`,
 * `properties`, `items`, `minItems`. Messages follow the wording of the validator API Gateway uses
 * (its `$context.error.validationErrorString`, a bracketed list), e.g.
 * `[instance type (string) does not match any allowed primitive type (allowed: ["object"])]`.
 */
import type { BodySchema } from '../lambdas/serving/contract.js';

/** A JSON value's draft-4 primitive type. */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Every way `value` fails `schema` (empty: it conforms). */
export function schemaErrors(schema: BodySchema, value: unknown): string[] {
  const errors: string[] = [];
  const check = (node: BodySchema, instance: unknown): void => {
    if (node.type !== undefined && typeOf(instance) !== node.type) {
      errors.push(
        `instance type (${typeOf(instance)}) does not match any allowed primitive type (allowed: ["${node.type}"])`,
      );
      return;
    }
    if (Array.isArray(instance)) {
      if (node.minItems !== undefined && instance.length < node.minItems)
        errors.push(
          `array is too short: must have at least ${node.minItems} elements but instance has ${instance.length} elements`,
        );
      if (node.items !== undefined) for (const item of instance) check(node.items, item);
      return;
    }
    if (instance === null || typeof instance !== 'object') return;
    const object = instance as Record<string, unknown>;
    const has = (key: string) => Object.hasOwn(object, key);
    const missing = (node.required ?? []).filter((key) => !has(key)).sort();
    if (missing.length > 0)
      errors.push(`object has missing required properties (${JSON.stringify(missing)})`);
    for (const [key, child] of Object.entries(node.properties ?? {})) if (has(key)) check(child, object[key]);
  };
  check(schema, value);
  return errors;
}

/** Why API Gateway's validator refuses `body` (text) against `schema`, or undefined when it passes. */
export function bodyRefusal(schema: BodySchema, body: string | null): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch (error) {
    return `[the body is not valid JSON (${error instanceof Error ? error.message : String(error)})]`;
  }
  const errors = schemaErrors(schema, value);
  return errors.length === 0 ? undefined : `[${errors.join(', ')}]`;
}
