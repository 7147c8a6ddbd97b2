/**
 * A model's hyperparameter candidates: its trainer's configured params, with each combination of
 * the search space laid over them.
 *
 * - No search: one candidate, the configured params.
 * - `grid`: every combination, keys in sorted order, the last key varying fastest.
 * - `random`: `samples` distinct combinations (at most the grid's size), drawn without replacement
 *   by mulberry32 seeded with `split.seed`: the same configuration always gives the same candidates.
 *
 * Every candidate passes the trainer's own params schema (model-config.ts); a space value the
 * trainer refuses is a ValidationError naming `search.space.<param>`, whether or not a sample drew it.
 * The candidates travel in the state machine's payload (256 KB), so at most
 * {@link MAX_SEARCH_CANDIDATES} of them.
 *
 * Plain code: no AWS SDK.
 */
import type * as z from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { mulberry32 } from '../../shared/random.js';
import { gbdtTrainerSchema, linearTrainerSchema, type TrainedModelConfig } from '../model-config.js';
import type { CandidateSpec } from './contract.js';

/**
 * Most candidates one execution trains: each goes through the Map state twice, as its params
 * (about 400 bytes of JSON for gbdt) and as its result (artifact refs, flat metrics and params,
 * about 1.6 KB), and the whole state must stay under Step Functions' 256 KB.
 */
export const MAX_SEARCH_CANDIDATES = 100;

type SearchValue = string | number | boolean;
type Params = Readonly<Record<string, unknown>>;

const PARAMS_SCHEMA = {
  linear: linearTrainerSchema.shape.params,
  gbdt: gbdtTrainerSchema.shape.params,
} as const;

/** The candidates of `model` (see the module doc); none for a SageMaker trainer (its job searches itself). */
export function expandCandidates(model: TrainedModelConfig): CandidateSpec[] {
  const trainer = model.trainer;
  if (trainer.algorithm === 'sagemaker') return [];
  const schema = PARAMS_SCHEMA[trainer.algorithm];
  const base = trainer.params as Params;
  const search = model.search;
  if (search === undefined) return [{ index: 0, params: checked(schema, base, trainer.algorithm) }];

  const keys = Object.keys(search.space).sort();
  if (keys.length === 0) throw new ValidationError('search.space', 'must name at least one parameter');
  const values = keys.map((k) => search.space[k] as SearchValue[]);
  // Each value alone over the configured params: a refused value is named whatever is drawn.
  keys.forEach((key, k) => {
    for (const value of values[k] as SearchValue[])
      checked(schema, { ...base, [key]: value }, trainer.algorithm, keys);
  });
  const sizes = values.map((v) => v.length);
  const gridSize = sizes.reduce((a, b) => a * b, 1);

  let picks: number[][];
  if (search.strategy === 'grid') {
    if (gridSize > MAX_SEARCH_CANDIDATES)
      throw new ValidationError(
        'search.space',
        `makes a grid of ${gridSize} combinations; at most ${MAX_SEARCH_CANDIDATES} (or use strategy random with samples)`,
      );
    picks = gridIndexes(sizes, gridSize);
  } else {
    const samples = search.samples;
    if (samples === undefined) throw new ValidationError('search.samples', 'is required for random search');
    if (samples > MAX_SEARCH_CANDIDATES)
      throw new ValidationError('search.samples', `must be at most ${MAX_SEARCH_CANDIDATES}`);
    picks =
      samples >= gridSize ? gridIndexes(sizes, gridSize) : randomIndexes(sizes, samples, model.split.seed);
  }
  return picks.map((pick, index) => {
    const combination = Object.fromEntries(
      keys.map((key, k) => [key, (values[k] as SearchValue[])[pick[k] as number]]),
    );
    return { index, params: checked(schema, { ...base, ...combination }, trainer.algorithm, keys) };
  });
}

/** Every combination's value indexes, the last key fastest. */
function gridIndexes(sizes: readonly number[], count: number): number[][] {
  const out: number[][] = [];
  for (let n = 0; n < count; n++) {
    const pick = new Array<number>(sizes.length);
    let rest = n;
    for (let k = sizes.length - 1; k >= 0; k--) {
      const size = sizes[k] as number;
      pick[k] = rest % size;
      rest = Math.floor(rest / size);
    }
    out.push(pick);
  }
  return out;
}

/** `samples` distinct combinations (fewer than the grid's), each key's value drawn by the seeded PRNG. */
function randomIndexes(sizes: readonly number[], samples: number, seed: number): number[][] {
  const random = mulberry32(seed);
  const seen = new Set<string>();
  const out: number[][] = [];
  while (out.length < samples) {
    const pick = sizes.map((size) => Math.floor(random() * size));
    const id = pick.join(',');
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(pick);
  }
  return out;
}

/** `params` as the trainer's schema reads them; a refusal names the search key or the trainer param. */
function checked(
  schema: z.ZodType,
  params: Params,
  algorithm: string,
  searchKeys: readonly string[] = [],
): Params {
  const result = schema.safeParse(params);
  if (result.success) return result.data as Params;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const key =
    issue.code === 'unrecognized_keys' ? (issue.keys[0] as string) : (issue.path[0] as string | undefined);
  const rule =
    issue.code === 'unrecognized_keys' ? `is not a parameter of the ${algorithm} trainer` : issue.message;
  if (key !== undefined && searchKeys.includes(key)) throw new ValidationError(`search.space.${key}`, rule);
  throw new ValidationError(key === undefined ? 'trainer.params' : `trainer.params.${key}`, rule);
}
