import { ConfigurationError } from './errors.js';

/**
 * Names of the environment variables the constructs set and the functions read: one list, imported
 * on both sides (lib/ passes configuration through them, lambdas/ reads them at cold start).
 */
export const ENV = {
  /** The feature store's offline bucket. */
  offlineBucket: 'OFFLINE_BUCKET',
  /** The feature store's online table. */
  onlineTable: 'ONLINE_TABLE',
  /** The table holding per-view materialization leases. */
  leaseTable: 'LEASE_TABLE',
  /** Powertools reads it: the `service` dimension of every metric and the logger's service. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools reads it: the CloudWatch namespace of every metric (configuration `metricsNamespace`). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/** Reads a required environment variable, failing at cold start with its name when absent. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} must be set`);
  }
  return value;
}
