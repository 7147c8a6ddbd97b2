/** A trained candidate's lineage (plain code, no onnxruntime: Prepare records it for SageMaker jobs too). */
import { lineageSchema, type ModelLineage } from '../../registry/version-record.js';
import { parseOrThrow } from '../../shared/validation.js';
import type { DatasetRef } from './contract.js';

/** The lineage a candidate's model embeds (the exporter adds its trainer's name and version). */
export function candidateLineage(dataset: DatasetRef, runId: string, fingerprint: string): ModelLineage {
  return parseOrThrow(
    lineageSchema,
    {
      runId,
      configFingerprint: fingerprint,
      trainingSet: { manifestKey: dataset.manifestKey, sha256: dataset.manifestSha256 },
      datasetHash: dataset.hash,
    },
    'lineage',
  );
}
