/**
 * A version's model card: Markdown rendered from its record and its histories, nothing else (no
 * clock, no I/O), so the same state always renders the same card. The registry-events consumer
 * writes it to `modelCardKey(model, version)` on every change touching the version.
 *
 * Sections: title and description; summary (stage, aliases, created at/by); metrics; params;
 * tags; input signature; output; lineage; artifacts with SHA-256; stage history (who, when, why,
 * gate results, overrides); alias history (moves to or from this version).
 */
import type { AliasHistoryEntry } from './alias-store.js';
import { describeGateResult } from './gates.js';
import type { ModelVersion } from './model-version.js';
import type { StageHistoryEntry } from './stages.js';
import { ARTIFACT_ROLES } from './version-record.js';

export interface ModelCardInput {
  readonly version: ModelVersion;
  /** The version's stage history, oldest first. */
  readonly stageHistory: readonly StageHistoryEntry[];
  /** Alias moves to or from this version (others are left out), each alias's oldest first. */
  readonly aliasHistory: readonly AliasHistoryEntry[];
}

/** Text safe inside a Markdown table cell: pipes escaped, line breaks flattened. */
function cell(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return (text ?? '').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string[] {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}

/** Sorted entries, so key order in the stored record never changes the card. */
const sorted = <T>(record: Readonly<Record<string, T>>): [string, T][] =>
  Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function section(title: string, body: string[], empty: string): string[] {
  return ['', `## ${title}`, '', ...(body.length > 0 ? body : [empty])];
}

function describeOutput(version: ModelVersion): string[] {
  const output = version.output;
  if (output === undefined) return [];
  switch (output.kind) {
    case 'binary':
      return [
        `Binary classification: positive class \`${cell(output.positiveClass)}\`, threshold ${output.threshold}.`,
      ];
    case 'multiclass':
      return [
        `Multiclass classification over ${output.classes.length} classes: ${output.classes.map((c) => `\`${cell(c)}\``).join(', ')}.`,
      ];
    case 'regression':
      return ['Regression.'];
  }
}

function lineageRows(version: ModelVersion): [string, string][] {
  const { trainingSet, featureViews, trainer, ...rest } = version.lineage;
  const rows: [string, string][] = [];
  if (trainingSet !== undefined)
    rows.push(['training set', `${trainingSet.manifestKey} (sha256 ${trainingSet.sha256})`]);
  for (const view of featureViews ?? [])
    rows.push([`feature view ${view.name}`, `definition ${view.definitionHash}`]);
  if (trainer !== undefined) rows.push(['trainer', `${trainer.name} ${trainer.version}`]);
  for (const [key, value] of sorted(rest as Record<string, unknown>))
    if (value !== undefined) rows.push([key, String(value)]);
  return rows;
}

function stageEntry(entry: StageHistoryEntry): string[] {
  const lines = [
    `${entry.sequence}. **${entry.from} → ${entry.to}** at ${entry.at} by \`${cell(entry.by)}\`: ${cell(entry.reason)}`,
  ];
  if (entry.causedBy !== undefined)
    lines.push(`   - archived because version ${entry.causedBy.version} was promoted to Production`);
  for (const gate of entry.gates ?? [])
    lines.push(`   - gate ${gate.passed ? 'passed' : 'FAILED'}: ${describeGateResult(gate)}`);
  if (entry.gateOverride !== undefined)
    lines.push(`   - **gates overridden**: ${cell(entry.gateOverride.reason)}`);
  return lines;
}

function aliasEntry(entry: AliasHistoryEntry): string {
  const to = (v: number | null) => (v === null ? 'nothing' : `version ${v}`);
  return `- \`${entry.alias}\` #${entry.sequence}: ${to(entry.from)} → ${to(entry.to)} at ${entry.at} by \`${cell(entry.by)}\`${entry.reason ? `: ${cell(entry.reason)}` : ''}`;
}

/** The Markdown card of one version (ends with a newline). */
export function renderModelCard(input: ModelCardInput): string {
  const { version: v } = input;
  const lines = [
    `# ${v.modelName} version ${v.version}`,
    '',
    v.description.trim() === '' ? '_No description._' : v.description.trim(),
    '',
    ...table(
      ['stage', 'aliases', 'created at', 'created by'],
      [[v.stage, v.aliases.length > 0 ? v.aliases.join(', ') : '-', v.createdAt, v.createdBy]],
    ),
    ...section(
      'Metrics',
      sorted(v.metrics).length > 0 ? table(['metric', 'value'], sorted(v.metrics)) : [],
      '_None recorded._',
    ),
    ...section(
      'Parameters',
      sorted(v.params).length > 0 ? table(['param', 'value'], sorted(v.params)) : [],
      '_None recorded._',
    ),
    ...section('Tags', sorted(v.tags).length > 0 ? table(['tag', 'value'], sorted(v.tags)) : [], '_None._'),
    ...section(
      'Input signature',
      v.signature === undefined
        ? []
        : table(
            ['#', 'feature', 'type', 'feature view'],
            v.signature.inputs.map((input, i) => [i + 1, input.name, input.type, input.featureView ?? '-']),
          ),
      '_Not recorded._',
    ),
    ...section('Output', describeOutput(v), '_Not recorded._'),
    ...section(
      'Lineage',
      lineageRows(v).length > 0 ? table(['what', 'value'], lineageRows(v)) : [],
      '_Not recorded._',
    ),
    ...section(
      'Artifacts',
      table(
        ['role', 'key', 'sha256', 'bytes', 's3 version'],
        ARTIFACT_ROLES.flatMap((role) => {
          const a = v.artifacts[role];
          return a === undefined ? [] : [[role, a.key, a.sha256, a.sizeBytes, a.s3VersionId ?? '-']];
        }),
      ),
      '',
    ),
    ...section(
      'Stage history',
      input.stageHistory.flatMap(stageEntry),
      '_No stage changes yet (registered in None)._',
    ),
    ...section(
      'Alias history',
      input.aliasHistory.map(aliasEntry),
      '_No alias has pointed at this version._',
    ),
  ];
  return `${lines.join('\n')}\n`;
}
