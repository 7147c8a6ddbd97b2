/**
 * A CloudWatch metric as a function emits it (lambdas/shared/metric-names.ts): the configured
 * namespace, the `service` dimension, and the dimension set (the spec's own or one of its rollups)
 * that the given values name exactly. The constructs' `metricXxx()` methods build on this, so an
 * alarm or a dashboard can only name a metric the functions emit.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { DIMENSIONS, type DimensionName, type MetricSpec } from '../lambdas/shared/metric-names.js';

/** Dimension values other than `service`. */
export type DimensionValues = Partial<Record<Exclude<DimensionName, 'service'>, string | number>>;

export function specMetric(
  namespace: string,
  service: string,
  spec: MetricSpec,
  where: DimensionValues,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  const given: Partial<Record<DimensionName, string>> = { [DIMENSIONS.service]: service };
  for (const [name, value] of Object.entries(where))
    if (value !== undefined) given[name as DimensionName] = String(value);
  const names = Object.keys(given).sort();
  const sets: readonly (readonly DimensionName[])[] = [spec.dimensions, ...(spec.rollups ?? [])];
  const set = sets.find((s) => [...s].sort().join() === names.join());
  if (set === undefined)
    throw new Error(
      `${spec.name} is emitted with dimensions ${sets.map((s) => `[${s.join(', ')}]`).join(' or ')}, not [${names.join(', ')}]`,
    );
  return new cloudwatch.Metric({
    namespace,
    metricName: spec.name,
    unit: spec.unit as cloudwatch.Unit,
    statistic: spec.statistic,
    ...props,
    dimensionsMap: {
      ...Object.fromEntries(set.map((d) => [d, given[d] as string])),
      ...props?.dimensionsMap,
    },
  });
}
