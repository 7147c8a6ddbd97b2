/**
 * Progress without hooks in the library calls: an object store and a DynamoDB document client that
 * count what passes through them (objects read under a prefix, items written) onto a progress bar.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StagingStore } from '../../lambdas/shared/object-store.js';
import type { Progress } from './output.js';

/** Counts objects listed (total) and read (done) under `prefix`; `puts` counts writes instead. */
export function countingStore(
  store: StagingStore,
  progress: Progress,
  count: { readonly prefix: string; readonly what: 'get' | 'put' },
): StagingStore {
  return {
    size: (key) => store.size(key),
    copy: (fromKey, toKey) => store.copy(fromKey, toKey),
    delete: (key) => store.delete(key),
    put: async (key, body, options) => {
      const written = await store.put(key, body, options);
      if (count.what === 'put' && key.startsWith(count.prefix)) progress.add();
      return written;
    },
    get: async (key) => {
      const body = await store.get(key);
      if (count.what === 'get' && key.startsWith(count.prefix)) progress.add();
      return body;
    },
    list: (prefix, options) => {
      const inner = store.list(prefix, options);
      if (count.what !== 'get' || !prefix.startsWith(count.prefix)) return inner;
      return (async function* () {
        for await (const key of inner) {
          progress.addTotal(1);
          yield key;
        }
      })();
    },
  };
}

/** A document client whose successful transactional or batch writes advance `progress` by their items. */
export function countingDocuments(
  documents: DynamoDBDocumentClient,
  progress: Progress,
): DynamoDBDocumentClient {
  return new Proxy(documents, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (
        command: { input?: { TransactItems?: unknown[]; RequestItems?: Record<string, unknown> } },
        ...rest: unknown[]
      ) => {
        const send = target.send as (...args: unknown[]) => Promise<unknown>;
        const output = await send.call(target, command, ...rest);
        const items =
          command.input?.TransactItems?.length ??
          Object.values(command.input?.RequestItems ?? {}).reduce(
            (n: number, list) => n + (Array.isArray(list) ? list.length : 0),
            0,
          );
        if (items > 0) progress.add(items);
        return output;
      };
    },
  });
}
