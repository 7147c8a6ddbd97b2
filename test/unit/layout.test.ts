import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as layout from '../../lambdas/shared/layout.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYOUT = path.join(ROOT, 'lambdas/shared/layout.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** The string and template literals of TypeScript source, comments left out. */
function literals(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
  return [...code.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((m) =>
    m[0].slice(1, -1),
  );
}

const prefixes = [...Object.values(layout.OFFLINE_PREFIX), ...Object.values(layout.ARTIFACT_PREFIX)];
const names = new Set<string>([
  ...Object.values(layout.ENV),
  ...Object.values(layout.CLI_ENV),
  layout.FEATURE_VIEWS_DEFINE,
]);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A literal that starts with a storage prefix, or has one right after an interpolation (`…}/features/`). */
const restatesPrefix = new RegExp(`(?:^|\\}/?)(?:${prefixes.map(escapeRegExp).join('|')})`);

/** What `file` restates of the layout module: prefixes and environment names written out. */
function restated(file: string): string[] {
  return literals(readFileSync(file, 'utf8')).filter(
    (text) => restatesPrefix.test(text) || names.has(text) || /^(?:MODEL|VERSION|TOKEN)#/.test(text),
  );
}

describe('layout module', () => {
  it('imports nothing (no SDK, no CDK: constructs and runtime both load it)', () => {
    expect(readFileSync(LAYOUT, 'utf8')).not.toMatch(/^\s*(?:import|export\s.*\sfrom)\s/m);
  });

  it('is the only place storage prefixes, environment names and registry keys are written out', () => {
    const offenders = ['lambdas', 'lib', 'bin']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => file !== LAYOUT)
      .flatMap((file) => restated(file).map((text) => `${path.relative(ROOT, file)}: ${text}`));
    expect(offenders).toEqual([]);
  });

  it('names the feature views define as the bundles read it (an identifier, not importable)', () => {
    const source = readFileSync(path.join(ROOT, 'lambdas/feature-store/configured-views.ts'), 'utf8');
    const declared = /^declare const (\w+)\b/m.exec(source)?.[1];
    expect(declared).toBe(layout.FEATURE_VIEWS_DEFINE);
    const uses = source.match(/\b__\w+__\b/g) ?? [];
    expect(uses.length).toBeGreaterThan(1);
    expect(new Set(uses)).toEqual(new Set([layout.FEATURE_VIEWS_DEFINE]));
  });

  it('keys a batch file under its view and date partition, as the Glue tables read them', () => {
    expect(layout.featureFileKey('orders', '2026-01-02', 'b1')).toBe(
      'features/orders/date=2026-01-02/b1.parquet',
    );
    expect(
      layout.featureFileKey('orders', '2026-01-02', 'b1').startsWith(layout.featureViewPrefix('orders')),
    ).toBe(true);
  });

  it('sorts registry versions by number (zero-padded sort keys)', () => {
    const keys = [10, 9, 100, 1].map(layout.versionSk);
    expect([...keys].sort()).toEqual([1, 9, 10, 100].map(layout.versionSk));
  });

  it('gives each storage prefix a grant pattern', () => {
    expect(layout.OFFLINE_KEYS.ingestionLog).toBe('ingestion-log/*');
    expect(layout.ARTIFACT_KEYS.models).toBe('models/*');
  });
});
