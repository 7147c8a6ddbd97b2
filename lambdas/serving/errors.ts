/**
 * Why an inference function refuses to serve: raised while the model loads at cold start, kept by
 * the handler, and answered to every request as a 503 with the error's `code` (ERROR_STATUS in
 * ./contract.ts). Names are spelled out (a minifier renames classes).
 */

/** The function has no model to serve: its Lambda version pins no registry version (or one that does not exist). */
export class ModelNotDeployedError extends Error {
  readonly code = 'ModelNotDeployed' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotDeployedError';
  }
}

/** The model artifact's SHA-256 is not the one the registry recorded: the function never serves it. */
export class ModelIntegrityError extends Error {
  readonly code = 'ModelIntegrityError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ModelIntegrityError';
  }
}

/**
 * The model artifact is the one the registry recorded (its SHA-256 matched) but carries no mlops model
 * contract (ONNX metadata): registered from outside mlops training, so this function cannot serve it.
 * Not an integrity failure (it fires no integrity alarm); final for the Lambda version, like one.
 */
export class ModelUnsupportedError extends Error {
  readonly code = 'ModelUnsupported' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ModelUnsupportedError';
  }
}

/**
 * The model's output is not the shape its contract promises (a count or width that does not match
 * the rows scored). Answered as 500 InternalError; the log and the errors metric name this type.
 */
export class ModelOutputError extends Error {
  readonly code = 'ModelOutputError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ModelOutputError';
  }
}
