/** Helpers the benchmarks share. */
import { existsSync, readFileSync } from 'node:fs';
import { defineFeatureView } from '../lambdas/feature-store/feature-view.js';

export { prng as mulberry32 } from '../test/support/random.js';

/** A size from `--name value` or the environment (`BENCH_NAME`), else `fallback`. */
export function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at >= 0 ? process.argv[at + 1] : process.env[`BENCH_${name.toUpperCase()}`];
  return raw === undefined ? fallback : Number(raw);
}

/**
 * This process's peak resident memory in MiB. VmHWM is the process's own peak (getrusage's maxRSS
 * survives exec, so a child spawned from a big parent would report the parent's).
 */
export function peakRssMiB(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(
    existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '',
  );
  return (hwm?.[1] === undefined ? process.resourceUsage().maxRSS : Number(hwm[1])) / 1024;
}

/** The account view the ingestion and materialization benches share: a string key, an int and a nullable float. */
export const customerView = defineFeatureView({
  name: 'customer',
  owner: 'bench',
  entities: [{ name: 'customer_id', type: 'string' }],
  ttlSeconds: 86_400,
  features: [
    { name: 'orders', type: 'int64', min: 0 },
    { name: 'spend', type: 'float64', nullable: true },
  ],
});
