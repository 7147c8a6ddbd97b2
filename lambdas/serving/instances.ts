/**
 * Predict instances into the raw rows the model's encoding spec encodes (training/encoding.ts):
 * online features merged in for entity instances (one `OnlineFeatureSource.read` per request for
 * all of them; request values override stored ones), then every row checked against the model's
 * input signature and its feature views' rules — names, JSON types, finite values, int64 integers,
 * min/max, declared categories — before anything is scored. A batch fails as a whole on its first
 * refusal, a RequestError naming the instance and the feature.
 *
 * The rules come from the signature (name, type, view) and, when the function knows the view's
 * definition, from the view (nullable, min, max, categories). Without the definition a feature is
 * checked by type alone and is required.
 */
import type { FeatureType, FeatureView } from '../feature-store/feature-view.js';
import type { OnlineFeatureValue } from '../feature-store/online-store.js';
import type { InputSignature } from '../registry/version-record.js';
import type { PredictInstance, RequestValue } from './contract.js';
import { RequestError } from './contract.js';
import type { OnlineFeatureSource } from './ports.js';

/** What one model input must be. */
export interface FeatureRule {
  readonly name: string;
  readonly type: FeatureType;
  /** Whether null (missing) is allowed. */
  readonly nullable: boolean;
  readonly min?: number;
  readonly max?: number;
  /** The declared categories of a string feature (from its view). */
  readonly categories?: ReadonlySet<string>;
}

/** The rules of each signature input, from the signature and the feature views it names. */
export function featureRules(
  signature: InputSignature,
  views: ReadonlyMap<string, FeatureView> = new Map(),
): Map<string, FeatureRule> {
  const rules = new Map<string, FeatureRule>();
  for (const input of signature.inputs) {
    const view = input.featureView === undefined ? undefined : views.get(input.featureView);
    const definition = view?.features.find((f) => f.name === input.name);
    rules.set(input.name, {
      name: input.name,
      type: input.type,
      nullable: definition?.nullable ?? false,
      ...(definition?.min === undefined ? {} : { min: definition.min }),
      ...(definition?.max === undefined ? {} : { max: definition.max }),
      ...(definition?.categories === undefined ? {} : { categories: new Set(definition.categories) }),
    });
  }
  return rules;
}

/** A checked row: every input of the signature, by name (null = missing, allowed). */
export type ServingRow = Readonly<Record<string, RequestValue>>;

export interface PreparedInstances {
  /** One row per instance, in request order: what the scorer encodes and the capture records. */
  readonly rows: readonly ServingRow[];
  /**
   * Per instance, seconds since each stored value's event time for the features taken from the
   * online store (null: no unexpired value); undefined for instances without an entity.
   */
  readonly featureAges: readonly (Readonly<Record<string, number | null>> | undefined)[];
}

const quote = (name: string) => JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);

const jsonType = (value: unknown): string =>
  typeof value === 'bigint' ? 'number' : value === null ? 'null' : typeof value;

/** A value checked against its rule: the value the row holds (int64 bigints become numbers). */
/** A refusal of `rule`'s value in `instance` (`source`: where the value came from). */
function invalid(
  code: 'InvalidFeatureType' | 'InvalidFeatureValue' | 'UnknownCategory',
  rule: FeatureRule,
  instance: number,
  source: string,
  text: string,
): RequestError {
  return new RequestError(code, `instance ${instance}: feature ${quote(rule.name)}${source} ${text}`, {
    instance,
    field: rule.name,
  });
}

function checkValue(rule: FeatureRule, value: unknown, instance: number, source: string): RequestValue {
  if (value === null || value === undefined) {
    if (rule.nullable) return null;
    throw new RequestError(
      'MissingFeature',
      `instance ${instance}: feature ${quote(rule.name)} is required${source === '' ? '' : ' (the online store holds no unexpired value)'}`,
      { instance, field: rule.name },
    );
  }
  switch (rule.type) {
    case 'float64':
    case 'int64': {
      let number: number;
      if (typeof value === 'number') number = value;
      else if (typeof value === 'bigint' && rule.type === 'int64') {
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
          throw invalid(
            'InvalidFeatureValue',
            rule,
            instance,
            source,
            `must be an integer within ±(2^53 − 1), not ${value}`,
          );
        number = Number(value);
      } else
        throw invalid(
          'InvalidFeatureType',
          rule,
          instance,
          source,
          `must be a number (${rule.type}), not ${jsonType(value)}`,
        );
      if (!Number.isFinite(number))
        throw invalid(
          'InvalidFeatureValue',
          rule,
          instance,
          source,
          `must be a finite number, not ${number}`,
        );
      if (rule.type === 'int64' && !Number.isSafeInteger(number)) {
        throw invalid(
          'InvalidFeatureValue',
          rule,
          instance,
          source,
          Number.isInteger(number)
            ? `must be an integer within ±(2^53 − 1), not ${number}`
            : `must be an integer (int64), not ${number}`,
        );
      }
      if (rule.min !== undefined && number < rule.min)
        throw invalid(
          'InvalidFeatureValue',
          rule,
          instance,
          source,
          `must be at least ${rule.min}, not ${number}`,
        );
      if (rule.max !== undefined && number > rule.max)
        throw invalid(
          'InvalidFeatureValue',
          rule,
          instance,
          source,
          `must be at most ${rule.max}, not ${number}`,
        );
      return number;
    }
    case 'bool':
      if (typeof value !== 'boolean')
        throw invalid(
          'InvalidFeatureType',
          rule,
          instance,
          source,
          `must be a boolean, not ${jsonType(value)}`,
        );
      return value;
    case 'string':
      if (typeof value !== 'string')
        throw invalid(
          'InvalidFeatureType',
          rule,
          instance,
          source,
          `must be a string, not ${jsonType(value)}`,
        );
      if (rule.categories !== undefined && !rule.categories.has(value)) {
        throw invalid(
          'UnknownCategory',
          rule,
          instance,
          source,
          `must be one of the declared categories (${[...rule.categories].slice(0, 20).map(quote).join(', ')}${rule.categories.size > 20 ? ', …' : ''}), not ${quote(value)}`,
        );
      }
      return value;
  }
}

/** Sets an own property, `__proto__` too (an input name may be spelled so; assigning it would not). */
function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__')
    Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/**
 * Merges online features into the instances and checks every row against `rules` (in signature
 * order). Unknown request features are refused before the online store is read.
 */
export async function prepareInstances(
  instances: readonly PredictInstance[],
  rules: ReadonlyMap<string, FeatureRule>,
  features: OnlineFeatureSource,
  nowMs: number,
): Promise<PreparedInstances> {
  instances.forEach((instance, i) => {
    for (const name of Object.keys(instance.features ?? {})) {
      if (!rules.has(name)) {
        throw new RequestError(
          'UnknownFeature',
          `instance ${i}: feature ${quote(name)} is not an input of this model (it takes ${[...rules.keys()].slice(0, 20).join(', ')}${rules.size > 20 ? ', …' : ''})`,
          { instance: i, field: name },
        );
      }
    }
  });
  const withEntity: number[] = [];
  instances.forEach((instance, i) => {
    if (instance.entity !== undefined) withEntity.push(i);
  });
  let stored: readonly Readonly<Record<string, OnlineFeatureValue>>[] = [];
  if (withEntity.length > 0) {
    try {
      stored = await features.read(
        withEntity.map((i) => instances[i]?.entity ?? {}),
        nowMs,
      );
    } catch (error) {
      // The source numbers instances by their place among the keys: give the request's index.
      if (error instanceof RequestError && error.where.instance !== undefined) {
        const at = withEntity[error.where.instance] ?? error.where.instance;
        throw new RequestError(error.code, error.message.replace(/^instance \d+/, `instance ${at}`), {
          ...error.where,
          instance: at,
        });
      }
      throw error;
    }
  }
  const storedByInstance = new Map<number, Readonly<Record<string, OnlineFeatureValue>>>();
  withEntity.forEach((i, k) => {
    const values = stored[k];
    if (values !== undefined) storedByInstance.set(i, values);
  });
  const ruleList = [...rules.values()];
  const rows: ServingRow[] = [];
  const featureAges: (Record<string, number | null> | undefined)[] = [];
  instances.forEach((instance, i) => {
    const given = instance.features ?? {};
    const online = storedByInstance.get(i);
    const row: Record<string, RequestValue> = {};
    let ages: Record<string, number | null> | undefined;
    if (instance.entity !== undefined) ages = {};
    for (const rule of ruleList) {
      if (Object.hasOwn(given, rule.name)) {
        setOwn(row, rule.name, checkValue(rule, given[rule.name], i, ''));
        continue;
      }
      const value = online !== undefined && Object.hasOwn(online, rule.name) ? online[rule.name] : undefined;
      if (value !== undefined && ages !== undefined)
        setOwn(ages, rule.name, value.ageMs === null ? null : value.ageMs / 1000);
      const source = value === undefined ? '' : ' (from the online store)';
      setOwn(row, rule.name, checkValue(rule, value?.value, i, source));
    }
    rows.push(row);
    featureAges.push(ages);
  });
  return { rows, featureAges };
}
