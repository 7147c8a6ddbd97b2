/**
 * Tables with a store's key schema (string partition and sort keys, as REGISTRY_ITEM or
 * TRACKING_ITEM name them), created on the emulator for tests of the stores, without provisioning
 * the whole stack.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { clients } from '../../lambdas/shared/clients.js';
import { REGISTRY_ITEM } from '../../lambdas/shared/layout.js';

/** Creates `tableName` with string keys named by `keys`, on demand billing. */
export async function createKeyedTable(
  tableName: string,
  keys: { readonly partitionKey: string; readonly sortKey: string },
): Promise<void> {
  await clients.dynamodb().send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: keys.partitionKey, AttributeType: 'S' },
        { AttributeName: keys.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: keys.partitionKey, KeyType: 'HASH' },
        { AttributeName: keys.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** Creates `tableName` with the registry's keys (REGISTRY_ITEM). */
export function createRegistryTable(tableName: string): Promise<void> {
  return createKeyedTable(tableName, REGISTRY_ITEM);
}
