/**
 * Every item of one partition whose sort key starts with a prefix, page by page, strongly
 * consistent: the read the registry's histories, the deployment history and the metric chunks
 * share. Keys come back as stored (callers strip `pk`/`sk` as their shape needs).
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';

export type Item = Record<string, unknown>;

export async function queryPrefix(
  documents: DynamoDBDocumentClient,
  query: { readonly tableName: string; readonly pk: string; readonly prefix: string },
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: query.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': query.pk, ':prefix': query.prefix },
        ConsistentRead: true,
        ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}
