import { ConflictError, type ConflictErrorOptions, ValidationError } from '../shared/errors.js';

/**
 * An experiment's definition broke a rule (allocation, ids, variant names). `field` is a dotted path
 * into the definition and `rule` names what was expected. A ValidationError (HTTP 400) with its own
 * `name`, so Step Functions and the CLI can tell it apart.
 */
export class ExperimentConfigError extends ValidationError {
  constructor(field: string, rule: string, message?: string) {
    super(field, rule, message);
    this.name = 'ExperimentConfigError';
  }
}

/**
 * Input to a statistical routine broke a rule (NaN, negative count, successes above the total, too
 * few observations, zero variance where a test is undefined). `field` names the argument.
 */
export class StatisticsInputError extends ValidationError {
  constructor(field: string, rule: string, message?: string) {
    super(field, rule, message);
    this.name = 'StatisticsInputError';
  }
}

/**
 * An experiment request contradicts what is stored: an overlapping running experiment, a stopped
 * experiment, an idempotency key counted with another outcome. `field` names the input field.
 */
export class ExperimentConflictError extends ConflictError {
  readonly field: string;

  constructor(field: string, message: string, options?: ConflictErrorOptions) {
    super(message, options);
    this.name = 'ExperimentConflictError';
    this.field = field;
  }
}
