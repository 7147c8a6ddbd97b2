/**
 * How a registered model version is linked to the tracked run its lineage names: the registration
 * transaction also adds `<model>:<version>` to the run item's `registeredVersions` string set,
 * only if the run exists. One transaction, so a version whose lineage names a run is always in that
 * run's `registeredVersions`, and a refused registration adds nothing.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../shared/errors.js';
import { RUN_SK, runPk } from '../shared/layout.js';

/** Refuses (naming `lineage.runId`) a run id that names no run of the tracking table. */
export async function assertRunExists(
  documents: DynamoDBDocumentClient,
  trackingTable: string,
  runId: string,
): Promise<void> {
  const result = await documents.send(
    new GetCommand({
      TableName: trackingTable,
      Key: { pk: runPk(runId), sk: RUN_SK },
      ProjectionExpression: 'pk',
      ConsistentRead: true,
    }),
  );
  if (result.Item === undefined) throw unknownRunError(runId);
}

/** The refusal of a `lineage.runId` that names no tracked run (checked first, or the run vanished). */
export function unknownRunError(runId: string): ValidationError {
  return new ValidationError('lineage.runId', `must name a tracked run (${runId} is not one)`);
}

/** The transaction part that records `versionRef` on the run (the run must exist). */
export function runLinkUpdate(trackingTable: string, runId: string, versionRef: string) {
  return {
    Update: {
      TableName: trackingTable,
      Key: { pk: runPk(runId), sk: RUN_SK },
      UpdateExpression: 'ADD registeredVersions :ref',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':ref': new Set([versionRef]) },
    },
  };
}
