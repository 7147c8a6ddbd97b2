import type { z } from 'zod';
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
  throw new ValidationError(issuePath(issue.path, prefix), issue.message);
}
