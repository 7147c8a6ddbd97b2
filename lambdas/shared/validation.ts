import type * as z from 'zod';
import { ValidationError } from './errors.js';

/** Dotted path of a zod issue (`metrics.auc`, `rows.3.age`); `(root)` for the input itself. */
export function issuePath(path: readonly PropertyKey[], prefix?: string): string {
  const parts = [...(prefix ? [prefix] : []), ...path.map(String)];
  return parts.length > 0 ? parts.join('.') : '(root)';
}

/**
 * Parses `input` with `schema`, throwing a {@link ValidationError} that names the first offending
 * field and the rule it broke.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new ValidationError(prefix ?? '(root)', 'invalid input');
  if (issue.code === 'unrecognized_keys') {
    // Name the unknown field itself, not the object that holds it.
    throw new ValidationError(
      issuePath([...issue.path, issue.keys[0] ?? ''], prefix),
      'is not a known field',
    );
  }
  throw new ValidationError(issuePath(issue.path, prefix), issue.message);
}
