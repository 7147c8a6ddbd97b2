import { ConfigurationError } from './errors.js';

/** Environment variable names live in the layout module (one home for constructs and runtime). */
export { ENV } from './layout.js';

/** Reads a required environment variable, failing at cold start with its name when absent. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} must be set`);
  }
  return value;
}
