/**
 * Rewrites a version's model card (lambdas/registry/model-card.ts) at `modelCardKey(model, version)`
 * in the artifact bucket, from the registry's current state read strongly consistently: the record,
 * its stage history and the alias moves to or from it. A stream record delivered late or again
 * therefore never writes an older card than the one already there.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ModelAliasStore } from '../registry/alias-store.js';
import { renderModelCard } from '../registry/model-card.js';
import type { ModelRegistryStore } from '../registry/registry-store.js';
import type { ModelStageStore } from '../registry/stage-store.js';
import { NotFoundError } from '../shared/errors.js';
import { MODEL_CARD_CONTENT_TYPE, modelCardKey } from '../shared/layout.js';

export interface ModelCardWriterProps {
  readonly registry: ModelRegistryStore;
  readonly stages: ModelStageStore;
  readonly aliases: ModelAliasStore;
  readonly s3: S3Client;
  readonly bucket: string;
}

export class ModelCardWriter {
  constructor(private readonly props: ModelCardWriterProps) {}

  /** Renders and writes the card; returns its key, or undefined when the version does not exist. */
  async write(modelName: string, version: number): Promise<string | undefined> {
    let record: Awaited<ReturnType<ModelRegistryStore['getModelVersion']>>;
    try {
      record = await this.props.registry.getModelVersion(modelName, version);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    const [stageHistory, aliasHistory] = await Promise.all([
      this.props.stages.history(modelName, version),
      this.props.aliases.modelHistory(modelName),
    ]);
    const body = renderModelCard({
      version: record,
      stageHistory,
      aliasHistory: aliasHistory.filter((e) => e.from === version || e.to === version),
    });
    const key = modelCardKey(modelName, version);
    await this.props.s3.send(
      new PutObjectCommand({
        Bucket: this.props.bucket,
        Key: key,
        Body: body,
        ContentType: MODEL_CARD_CONTENT_TYPE,
      }),
    );
    return key;
  }
}
