/**
 * The `npm start -- --scenario canary` faulty candidate: the trained logistic regression with its
 * positive-class bias moved by `logitShift` — the same features, signature and ranking (so the same
 * offline ROC-AUC, and it passes the promotion gates), but every score shifted, as a model trained
 * on mislabelled or differently balanced data would be. The canary's prediction PSI catches it.
 *
 * The ONNX graph is the one lambdas/training/linear/linear-export.ts writes: `logits = X·W + B`,
 * B a double tensor [2] (column 0 stays 0 for a binary model, column 1 is the positive class).
 */
import protobuf from 'protobufjs/light.js';
import { ONNX_DATA_TYPE, ONNX_SCHEMA } from '../../lambdas/training/onnx/schema.js';

const ModelProto = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');

interface TensorMessage {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
}

/** `bytes` (a binary linear model) with the positive class's bias plus `logitShift`. */
export function shiftedScoresModel(bytes: Uint8Array, logitShift: number): Uint8Array {
  const model = ModelProto.decode(bytes) as unknown as { graph?: { initializer?: TensorMessage[] } };
  const bias = model.graph?.initializer?.find((t) => t.name === 'B');
  if (
    bias?.raw_data === undefined ||
    bias.data_type !== ONNX_DATA_TYPE.double ||
    (bias.dims ?? []).map(Number).join(',') !== '2'
  )
    throw new Error(
      'the scenario shifts a binary linear model (a double bias B of shape [2]); this model is not one',
    );
  const raw = new Uint8Array(bias.raw_data);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  view.setFloat64(8, view.getFloat64(8, true) + logitShift, true);
  bias.raw_data = raw;
  return ModelProto.encode(model as unknown as protobuf.Message).finish();
}
