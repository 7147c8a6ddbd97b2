/**
 * Which registry event, if any, one record of the registry table's DynamoDB stream stands for.
 * Plain code (no I/O): the consumer (./publisher.ts) and the tests call it.
 *
 * | item (sort key)            | change                     | event                    |
 * |----------------------------|----------------------------|--------------------------|
 * | `VERSION#…`                | INSERT                     | ModelVersionRegistered   |
 * | `VERSION#…`                | MODIFY, `stage` differs    | ModelStageChanged        |
 * | `ALIAS#…`                  | INSERT, MODIFY or REMOVE   | ModelAliasChanged        |
 * | `DEPLOY#<id>#<sequence>`   | INSERT                     | the entry's `type`:      |
 * |                            |                            | CanaryStarted,           |
 * |                            |                            | CanaryStepPassed,        |
 * |                            |                            | CanaryPromoted or        |
 * |                            |                            | CanaryRolledBack         |
 * | anything else              | any                        | none                     |
 *
 * "Anything else" is the model head, idempotency tokens, stage and alias history entries, version
 * items whose only change is their alias set (an alias move touches them beside the alias item),
 * the `DEPLOYMENT` item (a deployment's state and lock: its history entries carry the events), a
 * deployment-history entry's MODIFY or REMOVE (the store only ever puts them, once), and items other
 * features add under other sort-key prefixes. Deployment events rewrite no model card. Keys are told apart by the layout
 * module's prefixes only.
 *
 * Every event's detail carries `eventId`, derived from the change itself (model, version, alias or
 * deployment, and the change's sequence number in the registry), never from the delivery: the same committed
 * change always has the same id, so a consumer downstream can drop a repeat.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
// Types only: importing the contract's values would build (and bundle) its zod schemas.
import type { DeploymentEvent, DeploymentEventType } from '../deployment/contract.js';
import type { ModelStage } from '../registry/model-version.js';
import type { StageHistoryEntry } from '../registry/stages.js';
import {
  aliasOfSk,
  deploymentOfSk,
  EVENT_DETAIL_TYPE,
  modelOfPk,
  REGISTRY_ITEM,
  versionOfSk,
} from '../shared/layout.js';

/** One record of the registry table's stream, as Lambda delivers it and GetRecords returns it. */
export type RegistryStreamRecord = StreamRecord;

/** `detail` of ModelVersionRegistered. */
export interface ModelVersionRegisteredDetail {
  readonly eventId: string;
  readonly modelName: string;
  readonly version: number;
  readonly stage: ModelStage;
  readonly createdAt: string;
  readonly createdBy: string;
  /** The model artifact. */
  readonly artifact: { readonly key: string; readonly sha256: string };
  /** The experiment-tracking run it came from, when its lineage names one. */
  readonly runId?: string;
}

/** `detail` of ModelStageChanged: the history entry the change appended, with the event's id. */
export type ModelStageChangedDetail = StageHistoryEntry & { readonly eventId: string };

/** `detail` of ModelAliasChanged. */
export interface ModelAliasChangedDetail {
  readonly eventId: string;
  readonly modelName: string;
  readonly alias: string;
  /** Position of the move in the alias's history, from 1. */
  readonly sequence: number;
  /** The version it pointed at before (null: it did not exist). */
  readonly from: number | null;
  /** The version it points at now (null: deleted). */
  readonly to: number | null;
  readonly at?: string;
  readonly by?: string;
  readonly reason?: string;
}

/**
 * `detail` of CanaryStarted, CanaryStepPassed, CanaryPromoted and CanaryRolledBack: the deployment's
 * history entry (lambdas/deployment/deployment-store.ts), with the event's id and `modelName` (=
 * `model`: every registry event's detail names its model there, so one rule matches them all).
 */
export type DeploymentEventDetail = DeploymentEvent & {
  readonly eventId: string;
  readonly modelName: string;
};

export type RegistryEvent =
  | {
      readonly detailType: typeof EVENT_DETAIL_TYPE.modelVersionRegistered;
      readonly detail: ModelVersionRegisteredDetail;
    }
  | {
      readonly detailType: typeof EVENT_DETAIL_TYPE.modelStageChanged;
      readonly detail: ModelStageChangedDetail;
    }
  | {
      readonly detailType: typeof EVENT_DETAIL_TYPE.modelAliasChanged;
      readonly detail: ModelAliasChangedDetail;
    }
  | {
      readonly detailType: DeploymentEventType;
      readonly detail: DeploymentEventDetail;
    };

/** What one stream record means: the event to publish and the versions whose cards to rewrite. */
export interface RecordMeaning {
  readonly event?: RegistryEvent;
  /** The model whose cards change (present whenever `cardVersions` is not empty). */
  readonly modelName?: string;
  readonly cardVersions: readonly number[];
}

const NOTHING: RecordMeaning = { cardVersions: [] };

type Item = Record<string, unknown>;

function image(value: Record<string, unknown> | undefined): Item | undefined {
  return value === undefined ? undefined : unmarshall(value as Record<string, AttributeValue>);
}

const numberOrNull = (value: unknown): number | null => (typeof value === 'number' ? value : null);

/** The contract's DEPLOYMENT_EVENTS values (layout constants); the type makes the list complete. */
const DEPLOYMENT_EVENT_TYPES: Readonly<Record<DeploymentEventType, true>> = {
  [EVENT_DETAIL_TYPE.canaryStarted]: true,
  [EVENT_DETAIL_TYPE.canaryStepPassed]: true,
  [EVENT_DETAIL_TYPE.canaryPromoted]: true,
  [EVENT_DETAIL_TYPE.canaryRolledBack]: true,
};
const isDeploymentEventType = (value: unknown): value is DeploymentEventType =>
  typeof value === 'string' && Object.hasOwn(DEPLOYMENT_EVENT_TYPES, value);

/** The event and card rewrites one stream record stands for (see the table in the module doc). */
export function meaningOf(record: RegistryStreamRecord): RecordMeaning {
  const keys = image(record.dynamodb?.Keys);
  const pk = keys?.[REGISTRY_ITEM.partitionKey];
  const sk = keys?.[REGISTRY_ITEM.sortKey];
  if (typeof pk !== 'string' || typeof sk !== 'string') return NOTHING;
  const modelName = modelOfPk(pk);
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);

  const version = versionOfSk(sk);
  if (version !== undefined && Number.isInteger(version)) {
    if (record.eventName === 'INSERT' && after !== undefined) {
      const artifact = after.artifact as { key: string; sha256: string } | undefined;
      const runId = (after.lineage as { runId?: unknown } | undefined)?.runId;
      return {
        modelName,
        cardVersions: [version],
        event: {
          detailType: EVENT_DETAIL_TYPE.modelVersionRegistered,
          detail: {
            eventId: `model/${modelName}/version/${version}/registered`,
            modelName,
            version,
            stage: after.stage as ModelStage,
            createdAt: String(after.createdAt),
            createdBy: typeof after.createdBy === 'string' ? after.createdBy : 'unknown',
            artifact: { key: String(artifact?.key), sha256: String(artifact?.sha256) },
            ...(typeof runId === 'string' ? { runId } : {}),
          },
        },
      };
    }
    if (record.eventName === 'MODIFY' && before !== undefined && after !== undefined) {
      if (before.stage === after.stage) return NOTHING; // an alias set changed, or nothing did
      const change = after[REGISTRY_ITEM.lastStageChange] as StageHistoryEntry | undefined;
      const sequence = typeof after.stageSeq === 'number' ? after.stageSeq : (change?.sequence ?? 0);
      return {
        modelName,
        cardVersions: [version],
        event: {
          detailType: EVENT_DETAIL_TYPE.modelStageChanged,
          detail: {
            eventId: `model/${modelName}/version/${version}/stage/${sequence}`,
            modelName,
            version,
            sequence,
            from: before.stage as ModelStage,
            to: after.stage as ModelStage,
            at: change?.at ?? String(after.updatedAt),
            by: change?.by ?? 'unknown',
            reason: change?.reason ?? '',
            ...(change?.gates !== undefined ? { gates: change.gates } : {}),
            ...(change?.gateOverride !== undefined ? { gateOverride: change.gateOverride } : {}),
            ...(change?.causedBy !== undefined ? { causedBy: change.causedBy } : {}),
          },
        },
      };
    }
    return NOTHING;
  }

  const deployment = deploymentOfSk(sk);
  if (deployment !== undefined) {
    // Entries are put once and never changed; their INSERT is the event.
    if (record.eventName !== 'INSERT' || after === undefined || !isDeploymentEventType(after.type))
      return NOTHING;
    const { pk: _pk, sk: _sk, seq: _seq, ...entry } = after;
    return {
      modelName,
      cardVersions: [],
      event: {
        detailType: after.type,
        detail: {
          eventId: `model/${modelName}/deployment/${deployment.deploymentId}/${deployment.sequence}`,
          modelName,
          ...(entry as unknown as DeploymentEvent),
        },
      },
    };
  }

  const alias = aliasOfSk(sk);
  if (alias !== undefined) {
    // The store never deletes an alias item (a deleted alias keeps its item without `version`),
    // but a REMOVE (by hand, or a future TTL) is a change too: from its version to nothing.
    const removed = record.eventName === 'REMOVE';
    const now = removed ? before : after;
    const from = numberOrNull(before?.version);
    const to = removed ? null : numberOrNull(after?.version);
    const sequence = typeof now?.seq === 'number' ? now.seq : 0;
    const text = (key: 'at' | 'by' | 'reason') =>
      !removed && typeof now?.[key] === 'string' ? { [key]: now[key] as string } : {};
    return {
      modelName,
      cardVersions: [...new Set([from, to].filter((v): v is number => v !== null))],
      event: {
        detailType: EVENT_DETAIL_TYPE.modelAliasChanged,
        detail: {
          eventId: `model/${modelName}/alias/${alias}/${sequence}${removed ? '/removed' : ''}`,
          modelName,
          alias,
          sequence,
          from,
          to,
          ...text('at'),
          ...text('by'),
          ...text('reason'),
        },
      },
    };
  }
  return NOTHING;
}
