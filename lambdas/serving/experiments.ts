/**
 * A/B experiments on the serving path, SDK-free (the handler wires the store and the loader).
 *
 * One router per function instance holds the model's running experiment (the oldest whose control
 * is the version this function serves) and the treatment model, loaded once with the same loader
 * and integrity check. `current()` is synchronous and costs no read: the state is refreshed in the
 * background when older than `refreshMs` (default 30 s); `ready()` awaits the first load (the
 * handler awaits it at init). A treatment that cannot be loaded leaves the experiment unserved (every
 * unit scores with control, and is reported as `default`) until a later refresh loads it.
 *
 * Instances served per variant are counted in memory and added to the experiment's `assignments`
 * counters at each refresh (one write per variant per ~30 s, never one per request).
 */
import { type CompiledAllocation, compileAllocation, variantOf } from '../experiments/assignment.js';
import type {
  Experiment,
  ExperimentVariant,
  RecordOutcomeInput,
  RecordOutcomeResult,
} from '../experiments/experiment-store.js';
import { logger } from '../shared/logger.js';
import type { LoadedModel } from './ports.js';

/** How often an instance re-reads the running experiments. */
export const EXPERIMENT_REFRESH_MS = 30_000;

export interface ServingExperiment {
  readonly experiment: Experiment;
  readonly allocation: CompiledAllocation;
  readonly treatment: LoadedModel;
}

export interface ExperimentRouter {
  /** The experiment this instance serves now, or undefined (no read: cached, refreshed in the background). */
  current(): ServingExperiment | undefined;
  /** Awaits the first (or the in-flight) refresh. */
  ready(): Promise<void>;
  /** Counts `n` instances served in `variant` (added to the counters at the next refresh). */
  served(variant: ExperimentVariant, n: number): void;
  /** Counts an outcome (experiment-store's recordOutcome, with the cached definition when it matches). */
  recordOutcome(input: RecordOutcomeInput): Promise<RecordOutcomeResult>;
}

export interface ExperimentRouterProps {
  /** The version this function serves (the control); undefined while none is loaded. */
  readonly controlVersion: () => number | undefined;
  /** The model's running experiments, oldest first (ExperimentStore.running). */
  readonly running: () => Promise<Experiment[]>;
  /** Loads a version with the function's loader (integrity-checked, warmed up). */
  readonly load: (version: number) => Promise<LoadedModel>;
  readonly recordOutcome: (input: RecordOutcomeInput, known?: Experiment) => Promise<RecordOutcomeResult>;
  readonly recordAssignments: (
    experimentId: string,
    counts: Partial<Record<ExperimentVariant, number>>,
  ) => Promise<void>;
  /** @default EXPERIMENT_REFRESH_MS */
  readonly refreshMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The unit of an instance under an experiment: its `unitId`, else its entity key named by the unit key. */
export function unitOf(
  instance: { readonly unitId?: string; readonly entity?: Readonly<Record<string, string | number>> },
  unitKey: string,
): string | undefined {
  if (instance.unitId !== undefined) return instance.unitId;
  const value = instance.entity?.[unitKey];
  return value === undefined ? undefined : String(value);
}

/** The variant of a unit under the served experiment. */
export function variantOfUnit(served: ServingExperiment, unitId: string): ExperimentVariant {
  return variantOf(served.experiment.id, served.allocation, unitId) as ExperimentVariant;
}

export function experimentRouter(props: ExperimentRouterProps): ExperimentRouter {
  const refreshMs = props.refreshMs ?? EXPERIMENT_REFRESH_MS;
  const now = props.now ?? Date.now;
  let state: ServingExperiment | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  /** Loaded treatments by version (a version is loaded once per instance). */
  const treatments = new Map<number, LoadedModel>();
  let pending = new Map<string, Partial<Record<ExperimentVariant, number>>>();

  async function flush(): Promise<void> {
    const counts = pending;
    pending = new Map();
    for (const [id, byVariant] of counts) {
      try {
        await props.recordAssignments(id, byVariant);
      } catch (error) {
        logger.warn('experiment assignments not recorded', {
          experimentId: id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  async function refresh(): Promise<void> {
    try {
      await flush();
      const control = props.controlVersion();
      const running = control === undefined ? [] : await props.running();
      const experiment = running.find((e) => e.control === control);
      if (experiment === undefined) {
        state = undefined;
        return;
      }
      let treatment = treatments.get(experiment.treatment);
      if (treatment === undefined) {
        treatment = await props.load(experiment.treatment);
        treatments.set(experiment.treatment, treatment);
      }
      state = {
        experiment,
        allocation: compileAllocation({ id: experiment.id, treatmentShare: experiment.allocation }),
        treatment,
      };
    } catch (error) {
      // Keep serving what was served; a failed read or load is retried at the next refresh.
      logger.error('experiments not refreshed', { error });
      if (state !== undefined && !treatments.has(state.experiment.treatment)) state = undefined;
    } finally {
      fetchedAt = now();
      inFlight = undefined;
    }
  }

  function start(): Promise<void> {
    inFlight ??= refresh();
    return inFlight;
  }

  return {
    current() {
      if (inFlight === undefined && now() - fetchedAt >= refreshMs) void start();
      return state;
    },
    ready: () => inFlight ?? (fetchedAt === Number.NEGATIVE_INFINITY ? start() : Promise.resolve()),
    served(variant, n) {
      if (state === undefined || n <= 0) return;
      const id = state.experiment.id;
      const counts = pending.get(id) ?? {};
      counts[variant] = (counts[variant] ?? 0) + n;
      pending.set(id, counts);
    },
    recordOutcome(input) {
      return props.recordOutcome(
        input,
        state?.experiment.id === input.experimentId ? state.experiment : undefined,
      );
    },
  };
}
