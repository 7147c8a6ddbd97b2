/**
 * Typed errors shared by the library code, the Lambdas and the CLI. Each sets `name` to its class
 * name, spelled out (a minifier renames classes, so `new.target.name` would not survive bundling):
 * Step Functions matches Retry/Catch `ErrorEquals` against it (Lambda reports it as `errorType`),
 * and HTTP adapters map `status` and `code` onto responses.
 */
export class MlopsError extends Error {
  /** HTTP status an API adapter should answer with. */
  readonly status: number;
  /** Stable, machine-readable code. */
  readonly code: string;

  constructor(message: string, status: number, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MlopsError';
    this.status = status;
    this.code = code;
  }
}

/** Input broke a rule. `field` is a dotted path into the input, `rule` names what was expected. */
export class ValidationError extends MlopsError {
  readonly field: string;
  readonly rule: string;

  constructor(field: string, rule: string, message?: string) {
    super(message ?? `${field}: ${rule}`, 400, 'VALIDATION_FAILED');
    this.name = 'ValidationError';
    this.field = field;
    this.rule = rule;
  }
}

/**
 * The item that would be written is larger than the store allows. Its `name` stays
 * `ValidationError` (workflows and HTTP adapters treat it as bad input); `instanceof` tells it apart.
 */
export class ItemTooLargeError extends ValidationError {
  readonly sizeBytes: number;
  readonly limitBytes: number;

  constructor(field: string, sizeBytes: number, limitBytes: number) {
    super(
      field,
      `item must be at most ${limitBytes} bytes`,
      `${field}: the item would be ${sizeBytes} bytes, over the ${limitBytes}-byte limit`,
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

export interface NotFoundErrorOptions extends ErrorOptions {
  /** The input field that named the missing thing (e.g. `modelName`, `alias`), when one did. */
  readonly field?: string;
}

/** A named thing does not exist. `field` names the input field that named it, when known. */
export class NotFoundError extends MlopsError {
  readonly field?: string;

  constructor(what: string, options?: NotFoundErrorOptions) {
    super(`${what} not found`, 404, 'NOT_FOUND', options);
    this.name = 'NotFoundError';
    if (options?.field !== undefined) this.field = options.field;
  }
}

export interface ConflictErrorOptions extends ErrorOptions {
  /** What the store holds now (e.g. the version an alias points at), so the caller can re-decide. */
  readonly current?: unknown;
}

/**
 * The request contradicts what is stored: a compare-and-set expected a value that is no longer
 * current, or an idempotency token was reused with a different payload. Retrying the same request
 * cannot succeed; `current` carries what is stored now when the store knows it.
 */
export class ConflictError extends MlopsError {
  readonly current?: unknown;

  constructor(message: string, options?: ConflictErrorOptions) {
    super(message, 409, 'CONFLICT', options);
    this.name = 'ConflictError';
    if (options?.current !== undefined) this.current = options.current;
  }
}

/**
 * A model registered before the search indexes existed was searched by stage, tag or metric: it
 * needs its index items written once (`reindexModel`, `mlops models reindex <model>`). A conflict
 * with what is stored (409), not bad input; `modelName` names the model to reindex.
 */
export class NotIndexedError extends ConflictError {
  readonly modelName: string;

  constructor(modelName: string, message: string) {
    super(message, { current: 'not indexed' });
    this.name = 'NotIndexedError';
    this.modelName = modelName;
  }
}

/**
 * A conditional write lost to concurrent writers more times than it may retry. Transient (unlike
 * {@link ConflictError}): the same request may succeed later, so workflows retry it.
 */
export class ContentionError extends MlopsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 503, 'CONTENTION', options);
    this.name = 'ContentionError';
  }
}

/**
 * Something that should not happen did: an invariant of our own code broke (rows lost between two
 * steps, a join that produced nothing for a view it was given). Never the caller's fault: a 500,
 * and distinct from {@link ValidationError} so workflows never treat it as bad input.
 */
export class InternalError extends MlopsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 500, 'INTERNAL', options);
    this.name = 'InternalError';
  }
}

/**
 * A service we depend on (S3, DynamoDB, …) failed or would not finish the work, after the retries
 * it was given. `dependency` names it. A 502: the request may succeed later, unchanged.
 */
export class DependencyError extends MlopsError {
  readonly dependency: string;

  constructor(dependency: string, message: string, options?: ErrorOptions) {
    super(`${dependency}: ${message}`, 502, 'DEPENDENCY_FAILED', options);
    this.name = 'DependencyError';
    this.dependency = dependency;
  }
}

/** Required configuration (usually an environment variable) is missing or malformed. */
export class ConfigurationError extends MlopsError {
  constructor(message: string) {
    super(message, 500, 'CONFIGURATION');
    this.name = 'ConfigurationError';
  }
}

/**
 * Stored data cannot be read as what it claims to be: a truncated or garbled file, one missing a
 * column every file of its kind has, rows breaking the order its metadata promises. `key` names the
 * object. Not the caller's fault (that is {@link ValidationError}): a 500, for an operator to fix.
 */
export class CorruptDataError extends MlopsError {
  /** The object (S3 key) that is corrupt. */
  readonly key: string;

  constructor(key: string, problem: string, options?: ErrorOptions) {
    super(`${key}: ${problem}`, 500, 'CORRUPT_DATA', options);
    this.name = 'CorruptDataError';
    this.key = key;
  }
}
