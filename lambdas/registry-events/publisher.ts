/**
 * The registry-events consumer's logic: turns a batch of the registry table's stream records into
 * EventBridge events (./registry-events.ts says which) and model-card rewrites, exactly once per
 * committed change as far as a stream consumer can.
 *
 * - Records are handled in stream order. A record's cards are rewritten before its event is
 *   queued (a card is rendered from the registry's current state, so rewriting it again is
 *   harmless); events go out in PutEvents calls of at most 10 entries.
 * - Entries a PutEvents call reports failed (FailedEntryCount) are sent again, alone, a few times
 *   with backoff. Entries still failing, a call that throws, or a card that cannot be written make
 *   the batch stop there: the first record not fully handled is returned as the one
 *   `batchItemFailures` entry, so Lambda (ReportBatchItemFailures) delivers again from it and the
 *   records before it, already published, are not sent again.
 * - Ids published by this process are remembered (the last {@link RECENT_IDS_KEPT}), so entries of
 *   a call that had succeeded after a failed one are not sent again when the batch comes back to
 *   the same warm function.
 *
 * What remains: if the function dies after a PutEvents call succeeded but before Lambda got its
 * answer (timeout, crash), the batch is delivered again, possibly to another instance, and those
 * events go out twice. Each carries the same `detail.eventId`, so a consumer that keeps the ids it
 * has seen drops the repeat.
 */

import {
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { DependencyError } from '../shared/errors.js';
import { EVENT_SOURCE } from '../shared/layout.js';
import { backoffDelay, sleep } from '../shared/retry.js';
import { meaningOf, type RegistryEvent, type RegistryStreamRecord } from './registry-events.js';

/** Most entries one PutEvents call takes. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** How many published event ids a process remembers. */
export const RECENT_IDS_KEPT = 10_000;

/** What Lambda reads back from a stream function with ReportBatchItemFailures. */
export interface StreamBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export interface PublisherProps {
  /** Sends PutEvents (the EventBridge client, or a wrapper of it that injects faults in tests). */
  readonly eventBridge: PutEventsSender;
  readonly busName: string;
  /** Rewrites the card of one version from the registry's current state. */
  readonly writeCard: (modelName: string, version: number) => Promise<void>;
  /** Ids published by this process (module scope in the handler), oldest first. */
  readonly recentIds?: Set<string>;
  /**
   * Attempts at each entry (the first call included).
   * @default 4
   */
  readonly maxAttempts?: number;
  /** Reports what went wrong with a record before the batch stops at it. */
  readonly onFailure?: (error: unknown, record: RegistryStreamRecord) => void;
}

/** What the publisher needs of the EventBridge client. */
export interface PutEventsSender {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

interface Pending {
  readonly entry: PutEventsRequestEntry;
  readonly eventId: string;
  readonly index: number;
}

/** The PutEvents entry of one event. */
export function entryOf(event: RegistryEvent, busName: string): PutEventsRequestEntry {
  const at =
    'at' in event.detail ? event.detail.at : 'createdAt' in event.detail ? event.detail.createdAt : undefined;
  const time = at === undefined ? undefined : new Date(at);
  return {
    EventBusName: busName,
    Source: EVENT_SOURCE,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
    ...(time !== undefined && !Number.isNaN(time.getTime()) ? { Time: time } : {}),
  };
}

/** Handles one batch of stream records (see the module doc); the failure names where to resume. */
export async function publishRecords(
  records: readonly RegistryStreamRecord[],
  props: PublisherProps,
): Promise<StreamBatchResponse> {
  const maxAttempts = props.maxAttempts ?? 4;
  const recent = props.recentIds ?? new Set<string>();
  const cardsWritten = new Set<string>();
  let pending: Pending[] = [];

  const remember = (id: string) => {
    recent.add(id);
    if (recent.size > RECENT_IDS_KEPT) recent.delete(recent.values().next().value as string);
  };

  /** Publishes the pending entries; returns the index of the first record left unpublished. */
  const flush = async (): Promise<number | undefined> => {
    let left = pending;
    pending = [];
    let lastError: unknown;
    for (let attempt = 1; left.length > 0 && attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(backoffDelay(attempt - 1, { baseDelayMs: 50, maxDelayMs: 1_000 }));
      try {
        const result = await props.eventBridge.send(
          new PutEventsCommand({ Entries: left.map((p) => p.entry) }),
        );
        const results = result.Entries ?? [];
        const failed: Pending[] = [];
        left.forEach((p, i) => {
          const outcome = results[i];
          if (outcome?.EventId !== undefined && outcome.ErrorCode === undefined) remember(p.eventId);
          else {
            failed.push(p);
            lastError = new DependencyError(
              'EventBridge',
              `PutEvents entry failed: ${outcome?.ErrorCode} ${outcome?.ErrorMessage ?? ''}`,
            );
          }
        });
        left = failed;
      } catch (error) {
        lastError = error; // unknown which entries went out: all are sent again (the event ids dedupe)
      }
    }
    if (left.length === 0) return undefined;
    const first = left[0] as Pending;
    props.onFailure?.(lastError, records[first.index] as RegistryStreamRecord);
    return first.index;
  };

  const failAt = (index: number): StreamBatchResponse => ({
    batchItemFailures: [{ itemIdentifier: records[index]?.dynamodb?.SequenceNumber ?? '' }],
  });

  for (const [index, record] of records.entries()) {
    const meaning = meaningOf(record);
    try {
      for (const version of meaning.cardVersions) {
        const card = `${meaning.modelName}/${version}`;
        if (cardsWritten.has(card) || meaning.modelName === undefined) continue;
        // Every change of this batch was committed before the batch was read, so a card rendered
        // now shows them all: one rewrite per version and batch is enough.
        await props.writeCard(meaning.modelName, version);
        cardsWritten.add(card);
      }
    } catch (error) {
      const unpublished = await flush();
      props.onFailure?.(error, record);
      return failAt(unpublished ?? index);
    }
    if (meaning.event !== undefined && !recent.has(meaning.event.detail.eventId)) {
      pending.push({
        entry: entryOf(meaning.event, props.busName),
        eventId: meaning.event.detail.eventId,
        index,
      });
    }
    if (pending.length === PUT_EVENTS_MAX_ENTRIES) {
      const unpublished = await flush();
      if (unpublished !== undefined) return failAt(unpublished);
    }
  }
  const unpublished = await flush();
  return unpublished === undefined ? { batchItemFailures: [] } : failAt(unpublished);
}
