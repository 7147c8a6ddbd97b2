/**
 * The inference function's online features: for each entity-key instance of a request, the stored
 * values of every signature input whose feature view the key names, read from the online store in
 * one go (OnlineStore.readViews: one BatchGetItem per 100 keys across every view, unprocessed keys
 * retried) and judged by the online store's TTL rule (a value older than its view's TTL reads as
 * missing: value null, age null).
 *
 * A key names entities by name (`{ customer_id: 'c-17' }`); a view is read for a key when the key
 * holds all of the view's entities. A key naming an entity none of the model's views has, holding
 * part of a view's entities, or covering no view at all is InvalidEntity; a key no view holds an
 * unexpired value for is UnknownEntity.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FeatureView } from '../feature-store/feature-view.js';
import {
  type EntityKey,
  entityKeyValues,
  type OnlineFeatureValue,
  type OnlineRead,
  OnlineStore,
} from '../feature-store/online-store.js';
import type { InputSignature } from '../registry/version-record.js';
import { DependencyError, MlopsError, ValidationError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { RequestError } from './contract.js';
import type { EntityKeyValues, OnlineFeatureSource } from './ports.js';

export interface OnlineFeatureSourceProps {
  readonly documents: DynamoDBDocumentClient;
  /** The online store table. */
  readonly tableName: string;
  /** The feature views the function was deployed with, by name. */
  readonly views: ReadonlyMap<string, FeatureView>;
  /** The served model's inputs: those with a `featureView` among `views` are read online. */
  readonly signature: InputSignature;
}

/** A view the model reads online and the features of it the model takes. */
interface ModelView {
  readonly view: FeatureView;
  readonly featureNames: readonly string[];
}

/**
 * The refusal of the entity key of instance `instance`: `field` is `entity` (the key as a whole) or
 * the entity name at fault. Its message, `instance N: entity[.name]: rule`, starts the way every
 * refusal of instances.ts does, so prepareInstances can renumber it to the request's index.
 */
export function entityRefusal(
  code: 'InvalidEntity' | 'UnknownEntity',
  instance: number,
  field: string,
  rule: string,
): RequestError {
  const at = field === 'entity' ? 'entity' : `entity.${field}`;
  return new RequestError(code, `instance ${instance}: ${at}: ${rule}`, { instance, field });
}

/** The online features of `signature`'s inputs, from the online store. */
export function onlineFeatureSource(props: OnlineFeatureSourceProps): OnlineFeatureSource {
  const store = new OnlineStore(props.documents, props.tableName);
  const byView = new Map<string, string[]>();
  const unknownViews = new Set<string>();
  for (const input of props.signature.inputs) {
    if (input.featureView === undefined) continue;
    if (!props.views.has(input.featureView)) {
      unknownViews.add(input.featureView);
      continue;
    }
    byView.set(input.featureView, [...(byView.get(input.featureView) ?? []), input.name]);
  }
  if (unknownViews.size > 0)
    logger.warn(
      'feature views of the model are not deployed with this function: their features are never read online',
      {
        views: [...unknownViews],
      },
    );
  const modelViews: ModelView[] = [...byView].map(([name, featureNames]) => ({
    view: props.views.get(name) as FeatureView,
    featureNames,
  }));
  const entityNames = new Set(modelViews.flatMap((m) => m.view.entities.map((e) => e.name)));
  const describeEntities = () =>
    modelViews.map((m) => `{ ${m.view.entities.map((e) => e.name).join(', ')} }`).join(' or ') || 'none';

  /** The model views `key` covers, each with its part of the key; throws InvalidEntity. */
  function covered(key: EntityKeyValues, instance: number): { index: number; key: EntityKey }[] {
    if (key === null || typeof key !== 'object' || Array.isArray(key))
      throw entityRefusal('InvalidEntity', instance, 'entity', 'must be an object of entity key values');
    for (const name of Object.keys(key)) {
      if (!entityNames.has(name))
        throw entityRefusal(
          'InvalidEntity',
          instance,
          name,
          `is not an entity of this model's feature views (entity keys: ${describeEntities()})`,
        );
    }
    const parts: { index: number; key: EntityKey }[] = [];
    modelViews.forEach(({ view }, index) => {
      const present = view.entities.filter((e) => e.name in key);
      if (present.length === 0) return;
      const missing = view.entities.find((e) => !(e.name in key));
      if (missing !== undefined)
        throw entityRefusal(
          'InvalidEntity',
          instance,
          missing.name,
          `is required with ${present.map((e) => e.name).join(', ')} (view ${view.name} is keyed by ${view.entities.map((e) => e.name).join(', ')})`,
        );
      const part: EntityKey = {};
      for (const entity of view.entities) part[entity.name] = key[entity.name] as string | number;
      try {
        entityKeyValues(view, part, 'entity');
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        throw entityRefusal('InvalidEntity', instance, error.field.split('.').at(-1) ?? 'entity', error.rule);
      }
      parts.push({ index, key: part });
    });
    if (parts.length === 0)
      throw entityRefusal(
        'InvalidEntity',
        instance,
        'entity',
        `must name the entities of a feature view of this model (${describeEntities()})`,
      );
    return parts;
  }

  return {
    async read(keys, nowMs) {
      const parts = keys.map((key, instance) => covered(key, instance));
      // One read per model view, holding the keys that cover it; `slots` maps its rows back.
      const slots = modelViews.map(() => [] as number[]);
      const reads: OnlineRead[] = modelViews.map(({ view, featureNames }, v) => {
        const entityKeys: EntityKey[] = [];
        parts.forEach((covers, instance) => {
          const part = covers.find((c) => c.index === v);
          if (part === undefined) return;
          entityKeys.push(part.key);
          slots[v]?.push(instance);
        });
        return { view, featureNames, entityKeys };
      });
      let rows: Awaited<ReturnType<OnlineStore['readViews']>>;
      try {
        rows = await store.readViews(
          reads.filter((r) => r.entityKeys.length > 0),
          nowMs,
        );
      } catch (error) {
        // Keys were checked above: anything else is the store failing (DependencyError as it is).
        if (error instanceof MlopsError) throw error;
        throw new DependencyError('dynamodb', `online feature read failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const out: Record<string, OnlineFeatureValue>[] = keys.map(() => ({}));
      const live = keys.map(() => false);
      let r = 0;
      reads.forEach((read, v) => {
        if (read.entityKeys.length === 0) return;
        const viewRows = rows[r++] ?? [];
        viewRows.forEach((row, i) => {
          const instance = slots[v]?.[i] as number;
          Object.assign(out[instance] as object, row.features);
          if (Object.values(row.features).some((f) => f.ageMs !== null)) live[instance] = true;
        });
      });
      live.forEach((found, instance) => {
        if (!found)
          throw entityRefusal(
            'UnknownEntity',
            instance,
            'entity',
            `the online store holds no unexpired features for ${JSON.stringify(keys[instance])}`,
          );
      });
      return out;
    },
  };
}
