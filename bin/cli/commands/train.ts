/**
 * `mlops train local`: tries a built-in trainer on a file (CSV, Parquet or JSON lines, read by the
 * ingestion readers), with no stack and no AWS: split by seed, train, export model.onnx, evaluate
 * it in onnxruntime on the held-out rows (lambdas/training/train-model.ts) and print the evaluation.
 *
 * Columns: every column but the label is a feature. CSV cells are text, so a column's type is
 * inferred from its cells: all `true`/`false` is bool, all numbers is float64, anything else is a
 * string (categorical) feature; an empty cell is missing. Typed inputs (Parquet, JSON lines) keep
 * their types. The task is inferred from the label when `--task` is absent: bool or two distinct
 * values is binary, other strings multiclass, other numbers regression.
 */
import { writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import type { FeatureType } from '../../../lambdas/feature-store/feature-view.js';
import { parseBody } from '../../../lambdas/feature-store/row-sources.js';
import { type FeatureInput, type RawRow, rowsToFrame } from '../../../lambdas/training/encoding.js';
import { TASKS, type Task } from '../../../lambdas/training/labels.js';
import { type TrainerInput, trainModel } from '../../../lambdas/training/train-model.js';
import { jsonOutput } from '../context.js';
import { formatOf, readInput } from '../inputs.js';
import { CliInputError, type CliIo, fields, Output, table } from '../output.js';
import { registerTrainPipelineCommands } from './train-pipeline.js';

const ALGORITHMS = { lr: 'linear', linear: 'linear', gbdt: 'gbdt' } as const;

/** Rows of a file as records, and whether their cells are text (CSV) or typed. */
async function readRows(file: string, field: string, io: CliIo) {
  const body = await readInput(file, field, io);
  const parsed = await parseBody(formatOf(file, body), body);
  const rows: Record<string, unknown>[] = [];
  for (const record of parsed.records) {
    if ('malformed' in record) throw new CliInputError(`${field}.line ${record.position}`, record.malformed);
    const { row } = record;
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new CliInputError(`${field}.line ${record.position}`, 'must be an object of columns');
    rows.push(row as Record<string, unknown>);
  }
  return { rows, text: parsed.kind === 'text' };
}

const isBoolText = (v: string) => /^(true|false)$/i.test(v);
const isNumberText = (v: string) => v.trim() !== '' && Number.isFinite(Number(v));
const missing = (v: unknown, text: boolean) => v === null || v === undefined || (text && v === '');

/** Each column's type, from the first file's cells (see the module comment). */
function inferTypes(rows: readonly Record<string, unknown>[], text: boolean): Map<string, FeatureType> {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row)) names.add(name);
  const types = new Map<string, FeatureType>();
  for (const name of names) {
    const values = rows.map((r) => r[name]).filter((v) => !missing(v, text));
    let type: FeatureType = 'string';
    if (text) {
      const cells = values as string[];
      if (cells.length > 0 && cells.every(isBoolText)) type = 'bool';
      else if (cells.every(isNumberText)) type = 'float64';
    } else if (values.length > 0 && values.every((v) => typeof v === 'boolean')) type = 'bool';
    else if (values.every((v) => typeof v === 'number' || typeof v === 'bigint' || v instanceof Date))
      type = 'float64';
    else if (!values.every((v) => typeof v === 'string'))
      throw new CliInputError(`data.${name}`, 'must hold values of one type (numbers, booleans or strings)');
    types.set(name, type);
  }
  return types;
}

/** One cell as the trainer takes it, checked against the column's type. */
function cell(v: unknown, type: FeatureType, text: boolean, field: string): RawRow[string] {
  if (missing(v, text)) return null;
  if (text) {
    const s = v as string;
    if (type === 'bool' && isBoolText(s)) return s.toLowerCase() === 'true';
    if (type === 'float64' && isNumberText(s)) return Number(s);
    if (type === 'string') return s;
  } else {
    if (type === 'bool' && typeof v === 'boolean') return v;
    if (type === 'float64' && (typeof v === 'number' || typeof v === 'bigint')) return Number(v);
    if (type === 'float64' && v instanceof Date) return v.getTime();
    if (type === 'string' && typeof v === 'string') return v;
  }
  throw new CliInputError(
    field,
    `must be ${type === 'float64' ? 'a number' : type === 'bool' ? 'true or false' : 'a string'} (as in --data), not ${JSON.stringify(String(v))}`,
  );
}

function convert(
  rows: readonly Record<string, unknown>[],
  types: ReadonlyMap<string, FeatureType>,
  text: boolean,
  field: string,
): RawRow[] {
  return rows.map((row, i) => {
    const out: Record<string, RawRow[string]> = {};
    for (const [name, type] of types) out[name] = cell(row[name], type, text, `${field}.${i}.${name}`);
    return out;
  });
}

/** The task from the label column when `--task` is absent. */
function inferTask(type: FeatureType, rows: readonly RawRow[], label: string): Task {
  const values = new Set(rows.map((r) => r[label]).filter((v) => v !== null && v !== undefined));
  if (type === 'bool' || values.size === 2) return 'binary';
  return type === 'string' ? 'multiclass' : 'regression';
}

/** `--param k=v`, repeatable: values are JSON where they parse (numbers, booleans), else text. */
function collectParam(text: string, previous: Record<string, unknown>): Record<string, unknown> {
  const at = text.indexOf('=');
  if (at < 1) throw new CliInputError('param', `must be key=value (${text} is not)`);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // plain text
  }
  return { ...previous, [text.slice(0, at)]: value };
}

const num = (v: number | null | undefined) => (v === null || v === undefined ? '' : Number(v.toPrecision(6)));

interface LocalOptions {
  data: string;
  label: string;
  algorithm: keyof typeof ALGORITHMS;
  task?: Task;
  test?: string;
  seed: string;
  testFraction: string;
  param: Record<string, unknown>;
  out: string;
}

export function registerTrainCommands(program: Command, io: CliIo): void {
  const group = program
    .command('train')
    .description('train models: their training pipelines (start, status, list, logs), or a file locally');
  registerTrainPipelineCommands(group, program, io);

  group
    .command('local')
    .description(
      'train a built-in model on a file, export model.onnx and print its held-out evaluation (no stack needed)',
    )
    .requiredOption('--data <file>', 'training rows: CSV, Parquet or JSON lines; - reads standard input')
    .requiredOption('--label <column>', 'the column to predict')
    .addOption(
      new Option('--algorithm <name>', 'trainer: lr (linear/logistic) or gbdt')
        .choices(Object.keys(ALGORITHMS))
        .makeOptionMandatory(),
    )
    .addOption(new Option('--task <task>', 'task (default: inferred from the label)').choices(TASKS))
    .option('--test <file>', 'held-out rows to evaluate on (default: a seeded share of --data)')
    .option('--seed <n>', 'seed of the split and the trainer', '42')
    .option('--test-fraction <f>', 'share of --data held out when --test is absent', '0.2')
    .option(
      '--param <key=value>',
      'trainer parameter, repeatable (e.g. numRounds=200, l2=0.001)',
      collectParam,
      {},
    )
    .requiredOption('--out <file>', 'where model.onnx goes')
    .action(async (options: LocalOptions) => {
      // No stack, no configuration: only the output conventions of the global options.
      const out = new Output(io, jsonOutput(program.opts(), io));
      const seed = Number(options.seed);
      if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31))
        throw new CliInputError('seed', 'must be a whole number from 0 to 2147483647');
      const testFraction = Number(options.testFraction);
      if (!(testFraction > 0 && testFraction < 1))
        throw new CliInputError('test-fraction', 'must be a number in (0, 1)');
      const data = await readRows(options.data, 'data', io);
      const types = inferTypes(data.rows, data.text);
      const labelType = types.get(options.label);
      if (labelType === undefined)
        throw new CliInputError(
          'label',
          `must be a column of --data (${options.label} is not)`,
          `columns: ${[...types.keys()].join(', ')}`,
        );
      const features: FeatureInput[] = [...types]
        .filter(([name]) => name !== options.label)
        .map(([name, type]) => ({ name, type }));
      if (features.length === 0)
        throw new CliInputError('data', 'must hold at least one feature column besides the label');
      const rows = convert(data.rows, types, data.text, 'data');
      const task = options.task ?? inferTask(labelType, rows, options.label);
      const columns = [...features, { name: options.label, type: labelType }];
      let test: ReturnType<typeof rowsToFrame> | undefined;
      if (options.test !== undefined) {
        const held = await readRows(options.test, 'test', io);
        test = rowsToFrame(columns, convert(held.rows, types, held.text, 'test'));
      }
      const trainer: TrainerInput = { algorithm: ALGORITHMS[options.algorithm], params: options.param };
      const result = await trainModel({
        task,
        frame: rowsToFrame(columns, rows),
        label: options.label,
        features,
        trainer,
        // Rows are held back for validation only when early stopping uses them.
        split: { testFraction, validationFraction: 'earlyStoppingRounds' in options.param ? 0.1 : 0, seed },
        ...(test === undefined ? {} : { test }),
      });
      await writeFile(options.out, result.onnx);
      const { metrics, latency, rows: counts, modelBytes } = result.evaluation;
      const {
        undefinedReasons,
        task: _task,
        ...values
      } = metrics as typeof metrics & { f1ByClass?: unknown };
      out.result(
        {
          model: options.out,
          sha256: result.sha256,
          bytes: modelBytes,
          task,
          algorithm: trainer.algorithm,
          features: features.map((f) => `${f.name}:${f.type}`),
          classes: result.classes,
          rows: counts,
          metrics: values,
          undefinedReasons,
          latencyMs: latency,
        },
        (r) =>
          [
            fields({
              model: r.model,
              sha256: r.sha256,
              bytes: r.bytes,
              task: r.task,
              algorithm: r.algorithm,
              features: r.features.join(', '),
              classes: r.classes.length > 0 ? r.classes.join(', ') : undefined,
              rows: `train ${counts.train}, validation ${counts.validation}, test ${counts.test}`,
            }),
            table(
              ['metric (held-out, ONNX)', 'value'],
              [
                ...Object.entries(values)
                  .filter(([, v]) => typeof v === 'number' || v === null)
                  .map(([k, v]) => [
                    k,
                    v === null ? `n/a (${undefinedReasons[k] ?? 'undefined'})` : num(v as number),
                  ]),
                ['latency p50 (ms/row)', num(latency.p50)],
                ['latency p95 (ms/row)', num(latency.p95)],
              ],
            ),
          ].join('\n'),
      );
    });
}
