/**
 * Property test of the registry's rules: random operation sequences (register, idempotent
 * re-register, stage transitions with right and stale expectations, gated promotions with and
 * without an override, alias set/move/delete with right and stale expectations, moves to where the
 * alias already is (no-ops), deletes of unset aliases, unknown versions)
 * run against the emulator and against a small in-memory model of the rules. After every operation
 * the outcome (success or the typed error, with what a ConflictError carries) must match the
 * model's, and every read path (get each version, get by each alias, list versions page by page,
 * search by each stage, by each alias, by a tag and by a random metric comparison in a random order,
 * page by page) must return what the model holds, stages and aliases included; at the end of each
 * sequence the stage and alias histories must be exactly the model's successful operations, in order.
 *
 * Sized for moto (slow): SEEDS × OPS below; raise them locally with REGISTRY_PROPERTY_SEEDS/OPS.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import type { ModelStage, ModelVersion } from '../../lambdas/registry/model-version.js';
import { ModelRegistryStore, type SearchVersionsOptions } from '../../lambdas/registry/registry-store.js';
import type { MetricOp } from '../../lambdas/registry/search.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { LEGAL_TRANSITIONS } from '../../lambdas/registry/stages.js';
import { clients } from '../../lambdas/shared/clients.js';
import { loadConfig } from '../../lib/config.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { prng } from '../support/random.js';

const SEEDS = Number(process.env.REGISTRY_PROPERTY_SEEDS ?? 20);
const OPS = Number(process.env.REGISTRY_PROPERTY_OPS ?? 30);
const STAGES: ModelStage[] = ['None', 'Staging', 'Production', 'Archived'];
const ALIASES = ['champion', 'challenger', 'shadow'];
const GATE_AUC = 0.5;
const BANDS = ['low', 'mid', 'high'];
const OPS_BY: MetricOp[] = ['>', '>=', '<', '<=', '='];

/** The tag a version is registered with: derived from its auc, so a same-payload retry has it too. */
const band = (auc: number): string => (auc < 0.34 ? 'low' : auc < 0.67 ? 'mid' : 'high');

let registry: ModelRegistryStore;
let stages: ModelStageStore;
let aliases: ModelAliasStore;
let bucket: string;
/** Operation kinds and outcomes the sequences produced (`transition:GateFailedError`, …). */
const seen = new Set<string>();

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'regprop-' });
  const tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  const documents = clients.documents();
  const { models } = loadConfig({
    models: Array.from({ length: SEEDS }, (_, seed) => ({
      name: modelName(seed),
      gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: GATE_AUC }] },
    })),
  });
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  stages = new ModelStageStore({ documents, tableName, models });
  aliases = new ModelAliasStore({ documents, tableName });
});

function modelName(seed: number): string {
  return `prop-${seed}`;
}

/** The rules, in memory. */
interface Model {
  versions: { stage: ModelStage; auc: number }[]; // index = version - 1
  aliases: Map<string, number>;
  tokens: Map<string, number>; // token → version; payload = that version's auc
  stageHistory: Map<number, [ModelStage, ModelStage][]>;
  aliasHistory: Map<string, [number | null, number | null][]>;
}

/** What an operation gave: 'ok' (with the version it returned) or the error's name and `current`. */
type Outcome = { ok: number | null } | { error: string; current?: unknown; field?: string };

async function outcome(run: () => Promise<number | null>): Promise<Outcome> {
  try {
    return { ok: await run() };
  } catch (error) {
    const e = error as Error & { current?: unknown; field?: unknown };
    if ('current' in e) return { error: e.name, current: e.current };
    return e.name === 'NotFoundError' && typeof e.field === 'string'
      ? { error: e.name, field: e.field }
      : { error: e.name };
  }
}

describe('registry rules under random operation sequences', () => {
  it.each(Array.from({ length: SEEDS }, (_, seed) => seed))(
    'seed %i: outcomes and every read path match the model after each operation',
    async (seed) => {
      const random = prng(seed + 1);
      const searchRandom = prng(seed + 10_001); // search choices, apart from the operation sequence
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const name = modelName(seed);
      const artifact = await putModelArtifact(clients.s3(), bucket, name, randomBytes(16));
      const model: Model = {
        versions: [],
        aliases: new Map(),
        tokens: new Map(),
        stageHistory: new Map(),
        aliasHistory: new Map(),
      };
      const anyVersion = () => 1 + Math.floor(random() * (model.versions.length + 1)); // may be unknown
      const log: string[] = [];

      for (let op = 0; op < OPS; op++) {
        // register 15% (while fewer than 8 versions), transition 50%, alias 35%
        const roll =
          model.versions.length === 0 ? 0 : model.versions.length >= 8 ? 0.15 + random() * 0.85 : random();
        let expected: Outcome;
        let actual: Outcome;
        if (roll < 0.15) {
          // register, sometimes with a token: new, reused with the same payload, or with another
          const tokens = [...model.tokens.keys()];
          const reuse = tokens.length > 0 && random() < 0.4 ? pick(tokens) : undefined;
          const token = reuse ?? (random() < 0.5 ? `t-${seed}-${op}` : undefined);
          const prior = reuse === undefined ? undefined : model.tokens.get(reuse);
          const samePayload = prior !== undefined && random() < 0.5;
          const auc = samePayload ? (model.versions[prior - 1]?.auc ?? 0) : Math.round(random() * 100) / 100;
          log.push(`register auc=${auc} token=${token ?? '-'}`);
          if (prior !== undefined) {
            expected = samePayload ? { ok: prior } : { error: 'ConflictError', current: prior };
          } else {
            model.versions.push({ stage: 'None', auc });
            if (token !== undefined) model.tokens.set(token, model.versions.length);
            expected = { ok: model.versions.length };
          }
          actual = await outcome(
            async () =>
              (
                await registry.registerModelVersion({
                  modelName: name,
                  artifact: { key: artifact.key, sha256: artifact.sha256 },
                  metrics: { auc },
                  tags: { band: band(auc) },
                  ...(token === undefined ? {} : { clientToken: token }),
                })
              ).version,
          );
        } else if (roll < 0.65) {
          // stage transition: right or stale expectation, legal or not, gated promotions
          // often a version in Staging, so promotions (and Production changing hands) are frequent
          const staging = model.versions.flatMap((v, i) => (v.stage === 'Staging' ? [i + 1] : []));
          const version = staging.length > 0 && random() < 0.4 ? pick(staging) : anyVersion();
          const state = model.versions[version - 1];
          const expectedStage = state !== undefined && random() < 0.75 ? state.stage : pick(STAGES);
          // Mostly legal moves, biased towards promotion (so Production changes hands often).
          const legal = LEGAL_TRANSITIONS[expectedStage];
          const r = random();
          const toStage =
            r < 0.4 && legal.includes('Production')
              ? 'Production'
              : r < 0.4 && legal.includes('Staging')
                ? 'Staging'
                : r < 0.85
                  ? pick(legal)
                  : pick(STAGES.filter((s) => s !== expectedStage));
          const override = random() < 0.3 ? { reason: `override ${op}` } : undefined;
          log.push(`transition v${version} ${expectedStage}->${toStage}${override ? ' override' : ''}`);
          if (!LEGAL_TRANSITIONS[expectedStage].includes(toStage)) expected = { error: 'ValidationError' };
          else if (state === undefined) expected = { error: 'NotFoundError' };
          else if (state.stage !== expectedStage) expected = { error: 'ConflictError', current: state.stage };
          else if (toStage === 'Production' && state.auc < GATE_AUC && override === undefined)
            expected = { error: 'GateFailedError' };
          else {
            expected = { ok: version };
            const record = (v: number, from: ModelStage, to: ModelStage) =>
              model.stageHistory.set(v, [...(model.stageHistory.get(v) ?? []), [from, to]]);
            if (toStage === 'Production') {
              const previous = model.versions.findIndex((v) => v.stage === 'Production');
              if (previous >= 0) {
                (model.versions[previous] as { stage: ModelStage }).stage = 'Archived';
                record(previous + 1, 'Production', 'Archived');
                seen.add('transition:archived-previous-production');
              }
            }
            record(version, state.stage, toStage);
            state.stage = toStage;
          }
          actual = await outcome(
            async () =>
              (
                await stages.transition({
                  modelName: name,
                  version,
                  expectedStage,
                  toStage,
                  reason: `op ${op}`,
                  ...(override ? { gateOverride: override } : {}),
                })
              ).version.version,
          );
        } else {
          // alias set / move / delete, with the right or a stale expectation
          const alias = pick(ALIASES);
          const current = model.aliases.get(alias) ?? null;
          const target = random() < 0.2 ? null : anyVersion();
          const stale = random() < 0.25;
          const expectedVersion = stale ? (random() < 0.3 ? null : anyVersion()) : current;
          log.push(`alias ${alias} ${current}->${target} expecting ${expectedVersion}`);
          if (expectedVersion !== current) expected = { error: 'ConflictError', current };
          else if (target === null && current === null) {
            expected = { error: 'NotFoundError', field: 'alias' }; // deleting an unset alias
            seen.add('alias:delete-unset');
          } else if (target !== null && target > model.versions.length)
            expected = { error: 'NotFoundError', field: 'version' };
          else if (target === current) {
            expected = { ok: target }; // already there: nothing written, no history entry
            seen.add('alias:unchanged');
          } else {
            expected = { ok: target };
            if (target === null) model.aliases.delete(alias);
            else model.aliases.set(alias, target);
            model.aliasHistory.set(alias, [...(model.aliasHistory.get(alias) ?? []), [current, target]]);
          }
          actual = await outcome(
            async () =>
              (
                await aliases.set({
                  modelName: name,
                  alias,
                  version: target,
                  expectedVersion,
                  reason: `op ${op}`,
                })
              ).to,
          );
        }
        expect(actual, `seed ${seed} op ${op}: ${log.join(' | ')}`).toEqual(expected);
        seen.add(`${log.at(-1)?.split(' ')[0]}:${'ok' in actual ? 'ok' : actual.error}`);
        await expectReadPathsMatch(name, model, `seed ${seed} op ${op}: ${log.at(-1)}`);
        await expectSearchesMatch(name, model, searchRandom, `seed ${seed} op ${op}: ${log.at(-1)}`);
      }

      await expectSearchesMatch(name, model, searchRandom, `seed ${seed} at the end`, true);

      // Histories: exactly the successful operations, in order; nothing from a refused one.
      for (const [index] of model.versions.entries()) {
        const version = index + 1;
        const history = await stages.history(name, version);
        expect(
          history.map((h) => [h.from, h.to]),
          `seed ${seed} stage history of v${version}`,
        ).toEqual(model.stageHistory.get(version) ?? []);
        expect(history.map((h) => h.sequence)).toEqual(history.map((_, i) => i + 1));
      }
      for (const alias of ALIASES) {
        const history = await aliases.history(name, alias);
        expect(
          history.map((h) => [h.from, h.to]),
          `seed ${seed} alias history of ${alias}`,
        ).toEqual(model.aliasHistory.get(alias) ?? []);
      }
    },
    120_000,
  );

  it('exercised every kind of outcome (the sequences are not degenerate)', () => {
    expect([...seen].sort()).toEqual(
      expect.arrayContaining([
        'register:ok',
        'register:ConflictError',
        'transition:ok',
        'transition:ValidationError',
        'transition:NotFoundError',
        'transition:ConflictError',
        'transition:GateFailedError',
        'transition:archived-previous-production',
        'alias:ok',
        'alias:ConflictError',
        'alias:NotFoundError',
        'alias:delete-unset',
        'alias:unchanged',
      ]),
    );
  });
});

/** The model's view of one version: what every read path must return. */
function modelView(model: Model, version: number) {
  const state = model.versions[version - 1];
  return {
    version,
    stage: state?.stage,
    metrics: { auc: state?.auc },
    tags: { band: band(state?.auc ?? 0) },
    aliases: [...model.aliases]
      .filter(([, v]) => v === version)
      .map(([a]) => a)
      .sort(),
  };
}

const readView = (v: ModelVersion) => ({
  version: v.version,
  stage: v.stage,
  metrics: v.metrics,
  tags: v.tags,
  aliases: v.aliases,
});

async function expectReadPathsMatch(name: string, model: Model, context: string): Promise<void> {
  const expected = model.versions.map((_, i) => modelView(model, i + 1));
  // get a version, each
  const got = await Promise.all(expected.map((e) => registry.getModelVersion(name, e.version)));
  expect(got.map(readView), `${context}: get`).toEqual(expected);
  // list versions, newest first, in pages of 4
  const listed: ModelVersion[] = [];
  let nextToken: string | undefined;
  do {
    const page = await registry.listModelVersions(name, { limit: 4, ...(nextToken ? { nextToken } : {}) });
    listed.push(...page.versions);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  expect(listed.map(readView), `${context}: list`).toEqual([...expected].reverse());
  // get by alias, each alias of the pool (unset ones are NotFoundError)
  for (const alias of ALIASES) {
    const target = model.aliases.get(alias);
    let view: unknown;
    try {
      view = readView(await aliases.getByAlias((m, v) => registry.getModelVersion(m, v), name, alias));
    } catch (error) {
      view = (error as Error).name;
    }
    expect(view, `${context}: get by alias ${alias}`).toEqual(
      target === undefined ? 'NotFoundError' : modelView(model, target),
    );
  }
}

/** Every page of a search. */
async function searchAll(
  name: string,
  options: SearchVersionsOptions,
  limit: number,
): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let nextToken: string | undefined;
  do {
    const page = await registry.searchVersions(name, {
      ...options,
      limit,
      ...(nextToken ? { nextToken } : {}),
    });
    out.push(...page.versions);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return out;
}

/**
 * Search must agree with the model (and so with get, get-by-alias and list, checked above): by a
 * random stage, alias and tag (`all`: by every one), and by a random metric comparison in a random
 * order, in random page sizes. Sized for moto: one of each per operation, every one at the end.
 */
async function expectSearchesMatch(
  name: string,
  model: Model,
  random: () => number,
  context: string,
  all = false,
): Promise<void> {
  if (model.versions.length === 0) return;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const views = model.versions.map((_, i) => modelView(model, i + 1));
  const newestFirst = [...views].reverse();
  const limit = 1 + Math.floor(random() * 4);
  for (const stage of all ? STAGES : [pick(STAGES)]) {
    const found = await searchAll(name, { stage }, limit);
    expect(found.map(readView), `${context}: search stage ${stage}`).toEqual(
      newestFirst.filter((v) => v.stage === stage),
    );
  }
  for (const alias of all ? ALIASES : [pick(ALIASES)]) {
    const found = await searchAll(name, { alias }, limit);
    const target = model.aliases.get(alias);
    expect(found.map(readView), `${context}: search alias ${alias}`).toEqual(
      target === undefined ? [] : [modelView(model, target)],
    );
  }
  for (const value of all ? BANDS : [pick(BANDS)]) {
    const byTag = await searchAll(name, { tag: { key: 'band', value } }, limit);
    expect(byTag.map(readView), `${context}: search tag band=${value}`).toEqual(
      newestFirst.filter((v) => v.tags.band === value),
    );
  }
  // A metric comparison: a threshold that is often some version's auc exactly (ties, '=').
  const op = pick(OPS_BY);
  const threshold = random() < 0.5 ? (pick(views).metrics.auc ?? 0) : Math.round(random() * 100) / 100;
  const order = pick(['version', 'asc', 'desc'] as const);
  const options: SearchVersionsOptions = {
    metric: { name: 'auc', op, value: threshold },
    ...(order === 'version' ? {} : { orderBy: { metric: 'auc', direction: order } }),
  };
  const passes = (auc: number) =>
    ({
      '>': auc > threshold,
      '>=': auc >= threshold,
      '<': auc < threshold,
      '<=': auc <= threshold,
      '=': auc === threshold,
    })[op];
  const matching = newestFirst.filter((v) => passes(v.metrics.auc ?? Number.NaN));
  const ordered =
    order === 'version'
      ? matching
      : [...matching].sort((a, b) => {
          const byAuc = (a.metrics.auc ?? 0) - (b.metrics.auc ?? 0) || a.version - b.version;
          return order === 'asc' ? byAuc : -byAuc;
        });
  const byMetric = await searchAll(name, options, limit);
  expect(byMetric.map(readView), `${context}: search ${JSON.stringify(options)} limit ${limit}`).toEqual(
    ordered,
  );
}
