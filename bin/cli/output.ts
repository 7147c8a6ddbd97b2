/**
 * The CLI's conventions, in one place; every command follows them.
 *
 * - Results on stdout: a table for people (stdout is a terminal), JSON for scripts (`--json`, or
 *   stdout is not a terminal — a pipe or a file). `--table` forces tables into a pipe.
 * - Progress bars (cli-progress) on stderr, only when stderr is a terminal and JSON is not forced.
 * - Errors on stderr: `error: <field>: <rule>`, then `hint: …` where one helps.
 * - Exit codes: {@link EXIT}.
 */
import { readFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { NotFoundError, ValidationError } from '../../lambdas/shared/errors.js';

/**
 * Exit codes: success, failure, bad input, partial success (some rows rejected), not found (a
 * named model, version, alias or card does not exist; the registry commands).
 */
export const EXIT = { ok: 0, failure: 1, badInput: 2, partial: 3, notFound: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stdout is a terminal (tables) or not (JSON). @default false */
  readonly stdoutIsTty?: boolean;
  /** Where progress bars draw; none, no progress. */
  readonly progressStream?: NodeJS.WriteStream;
  /** Standard input, for `-` in place of a file. */
  readonly stdin?: () => Promise<Uint8Array>;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTty: process.stdout.isTTY === true,
  ...(process.stderr.isTTY ? { progressStream: process.stderr } : {}),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  },
};

/** The package's version (`mlops --version`). */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Bad input the CLI itself detected, with a hint for the person who typed it. */
export class CliInputError extends ValidationError {
  readonly hint: string | undefined;
  constructor(field: string, rule: string, hint?: string) {
    super(field, rule);
    this.name = 'CliInputError';
    this.hint = hint;
  }
}

/** Something the command line named does not exist (exit {@link EXIT.notFound}), with a hint. */
export class CliNotFound extends NotFoundError {
  readonly field: string;
  readonly hint: string | undefined;
  constructor(field: string, what: string, hint?: string) {
    super(what);
    this.name = 'CliNotFound';
    this.field = field;
    this.hint = hint;
  }
}

/** A failure that is not bad input (no stack, no endpoint), with what to do about it. */
export class CliFailure extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliFailure';
    this.hint = hint;
  }
}

/** Epoch seconds for the span of dates this project deals in (2000 to 2100): a common mistake. */
export function looksLikeEpochSeconds(value: unknown): boolean {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 946_684_800 && n < 4_102_444_800;
}
export const EPOCH_SECONDS_HINT =
  'epoch seconds? expected milliseconds (multiply by 1000) or an RFC 3339 time such as 2026-01-31T12:00:00Z';

/** JSON for scripts: bigints as numbers where exact, else strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      typeof v === 'bigint'
        ? v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(v)
          : v.toString()
        : v,
    2,
  );
}

/** A plain table (no colours, so it reads the same in a terminal, a log or a test). */
export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const t = new Table({ head: [...head], style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map(cell));
  return t.toString();
}

/** Two columns: a record's fields and values. */
export function fields(record: Readonly<Record<string, unknown>>): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(record)) if (value !== undefined) t.push({ [key]: cell(value) });
  return t.toString();
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join('\n');
  if (typeof value === 'object') return toJson(value).replace(/\s*\n\s*/g, ' ');
  return String(value);
}

/** An ISO time for people, from epoch ms. */
export const isoTime = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? '' : new Date(ms).toISOString();

/** A progress bar on stderr, or nothing when stderr is not a terminal or output is JSON. */
export interface Progress {
  phase(name: string, total?: number): void;
  add(n?: number): void;
  addTotal(n: number): void;
  /** Renames the current phase (e.g. the step a waited-on execution is in) without resetting its count. */
  note(phase: string): void;
  stop(): void;
}

const noProgress: Progress = { phase() {}, add() {}, addTotal() {}, note() {}, stop() {} };

const exitCodes = new WeakMap<object, ExitCode>();
/** Records the exit code a run ends with when its command returns normally (e.g. partial). */
export function setExitCode(program: object, code: ExitCode): void {
  exitCodes.set(program, code);
}
export function exitCodeOf(program: object): ExitCode {
  return exitCodes.get(program) ?? EXIT.ok;
}

const tablesUsed = new WeakMap<CliIo, Map<string, string>>();
/**
 * Records that this run resolved a DynamoDB table (`field` is its flag, e.g. `tracking-table`), so
 * a ResourceNotFoundException can name the table missing: DynamoDB's message often does not.
 */
export function noteTable(io: CliIo, field: string, name: string): void {
  const used = tablesUsed.get(io) ?? new Map<string, string>();
  used.set(field, name);
  tablesUsed.set(io, used);
}
/** The tables this run resolved, flag → name (see {@link noteTable}). */
export function tablesNoted(io: CliIo): ReadonlyMap<string, string> {
  return tablesUsed.get(io) ?? new Map();
}

export class Output {
  constructor(
    readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** Prints a result: JSON for scripts, `human(value)` for people. */
  result<T>(value: T, human: (value: T) => string): void {
    this.io.stdout(`${this.json ? toJson(value) : human(value)}\n`);
  }

  /** A progress bar (see {@link Progress}); `stop()` it before printing the result. */
  progress(label: string): Progress {
    const stream = this.io.progressStream;
    if (stream === undefined || this.json) return noProgress;
    const bar = new SingleBar({
      stream,
      // A known total draws a bar; an unknown one (0) counts what is done so far.
      format: (options, params, payload: { phase?: string }) => {
        const size = options.barsize ?? 30;
        const filled = params.total > 0 ? Math.round(Math.min(1, params.value / params.total) * size) : 0;
        return params.total > 0
          ? `${label} ${payload.phase ?? ''} [${'#'.repeat(filled)}${'-'.repeat(size - filled)}] ${params.value}/${params.total}`
          : `${label} ${payload.phase ?? ''} ${params.value}`;
      },
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    });
    let total = 0;
    let started = false;
    return {
      phase(name, newTotal) {
        total = newTotal ?? 0;
        if (!started) {
          bar.start(total, 0, { phase: name });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(0, { phase: name });
        }
      },
      add(n = 1) {
        if (started) bar.increment(n);
      },
      addTotal(n) {
        total += n;
        if (started) bar.setTotal(total);
      },
      note(name) {
        if (started) bar.update({ phase: name });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
}
