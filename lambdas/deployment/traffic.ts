/**
 * The canary's traffic, on the inference function's `live` alias (Lambda's weighted aliases): the
 * alias keeps the stable version as its target and sends `weight` % of invocations to the canary
 * as its additional version. Promotion points the alias at the canary alone; rollback at the stable
 * version alone. Each call sets the whole alias state, so a retried step converges to it.
 */
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { ValidationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';

/** Where the alias points now, and the model version each Lambda version is pinned to. */
export interface AliasState {
  readonly functionVersion: string;
  /** The canary's version and its share (0–1), when the alias is weighted. */
  readonly additional?: { readonly version: string; readonly weight: number };
}

/** The alias's target and routing. */
export async function aliasState(
  lambda: LambdaClient,
  functionName: string,
  alias: string,
): Promise<AliasState> {
  const out = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: alias }));
  const [entry] = Object.entries(out.RoutingConfig?.AdditionalVersionWeights ?? {});
  return {
    functionVersion: out.FunctionVersion ?? '$LATEST',
    ...(entry === undefined ? {} : { additional: { version: entry[0], weight: entry[1] } }),
  };
}

/** The registry version a Lambda version is pinned to (its MODEL_VERSION), or null when none. */
export async function pinnedModelVersion(
  lambda: LambdaClient,
  functionName: string,
  functionVersion: string,
): Promise<number | null> {
  if (functionVersion === '$LATEST') return null;
  const config = await lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: functionVersion }),
  );
  const raw = config.Environment?.Variables?.[ENV.modelVersion];
  const version = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(version) && version > 0 ? version : null;
}

/** Sends `percent` % of the alias's invocations to `canary`, the rest to `stable`. */
export async function shiftTraffic(
  lambda: LambdaClient,
  target: { functionName: string; alias: string; stable: string; canary: string },
  percent: number,
): Promise<void> {
  if (!(percent > 0 && percent < 100))
    throw new ValidationError('weight', 'must be above 0 and below 100 (100 is the promotion)');
  await lambda.send(
    new UpdateAliasCommand({
      FunctionName: target.functionName,
      Name: target.alias,
      FunctionVersion: target.stable,
      // Lambda takes the share with up to 5 decimals.
      RoutingConfig: { AdditionalVersionWeights: { [target.canary]: Math.round(percent * 1000) / 100_000 } },
    }),
  );
}

/** Points the alias at `version` alone (the promotion: the canary; the rollback: the stable one). */
export async function pointAlias(
  lambda: LambdaClient,
  target: { functionName: string; alias: string },
  version: string,
): Promise<void> {
  await lambda.send(
    new UpdateAliasCommand({
      FunctionName: target.functionName,
      Name: target.alias,
      FunctionVersion: version,
      RoutingConfig: { AdditionalVersionWeights: {} },
    }),
  );
}
