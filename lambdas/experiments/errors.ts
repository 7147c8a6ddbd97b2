import { ValidationError } from '../shared/errors.js';

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
