/**
 * This project's configuration: read by the CDK app (`cdk deploy`), the `mlops` CLI and the local
 * harness alike, validated by lib/config.ts (a bad value stops synthesis naming its field).
 *
 * A feature view, for example:
 *
 *   featureViews: [
 *     {
 *       name: 'customer',
 *       owner: 'growth-ml',
 *       description: 'Customer activity, daily',
 *       entities: [{ name: 'customer_id', type: 'string' }],
 *       eventTimeColumn: 'event_time',
 *       ttlSeconds: 2 * 86_400,
 *       online: true,
 *       materializeEveryMinutes: 60,
 *       features: [
 *         { name: 'orders_7d', type: 'int64', min: 0 },
 *         { name: 'spend_7d', type: 'float64', nullable: true, min: 0 },
 *         { name: 'segment', type: 'string', categories: ['new', 'active', 'lapsed'] },
 *       ],
 *       tags: { domain: 'growth' },
 *     },
 *   ],
 */
import { defineConfig } from './lib/config.js';

export default defineConfig({
  stackName: 'ServerlessMlops',
  featureViews: [],
});
