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

/** A named thing does not exist. */
export class NotFoundError extends MlopsError {
  constructor(what: string, options?: ErrorOptions) {
    super(`${what} not found`, 404, 'NOT_FOUND', options);
    this.name = 'NotFoundError';
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
 * A conditional write lost to concurrent writers more times than it may retry. Transient (unlike
 * {@link ConflictError}): the same request may succeed later, so workflows retry it.
 */
export class ContentionError extends MlopsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 503, 'CONTENTION', options);
    this.name = 'ContentionError';
  }
}

/** Required configuration (usually an environment variable) is missing or malformed. */
export class ConfigurationError extends MlopsError {
  constructor(message: string) {
    super(message, 500, 'CONFIGURATION');
    this.name = 'ConfigurationError';
  }
}
