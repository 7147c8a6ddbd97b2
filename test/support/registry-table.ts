/**
 * A table with the registry's key schema (REGISTRY_ITEM: `pk`/`sk` strings), created on the
 * emulator for tests of the stores that share it (experiments, deployments), without provisioning
 * the whole stack.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { clients } from '../../lambdas/shared/clients.js';
import { REGISTRY_ITEM } from '../../lambdas/shared/layout.js';

/** Creates `tableName` with the registry's keys, on demand billing. */
export async function createRegistryTable(tableName: string): Promise<void> {
  await clients.dynamodb().send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: REGISTRY_ITEM.partitionKey, AttributeType: 'S' },
        { AttributeName: REGISTRY_ITEM.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: REGISTRY_ITEM.partitionKey, KeyType: 'HASH' },
        { AttributeName: REGISTRY_ITEM.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
