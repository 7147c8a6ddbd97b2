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

/**
 * The string and template literals of TypeScript source, comments and regular expressions left out.
 * A template's text keeps `{…}` where its interpolations were; literals inside an interpolation
 * (`${cond ? `a/` : 'b/'}`) are literals of their own.
 */
function literals(source: string): string[] {
  const found: string[] = [];
  let i = 0;
  /** Whether a `/` here starts a regular expression (after an operator or keyword, not a value). */
  const regexAllowed = (): boolean => {
    const before = source.slice(0, i).trimEnd();
    return (
      before === '' ||
      /[(,=:[!&|?{};+\-*%<>~^]$/.test(before) ||
      /\b(?:return|typeof|case|in|of)$/.test(before)
    );
  };
  const quoted = (quote: string): string => {
    const start = ++i;
    while (i < source.length && source[i] !== quote) i += source[i] === '\\' ? 2 : 1;
    return source.slice(start, i++);
  };
  const template = (): string => {
    let text = '';
    i++;
    while (i < source.length && source[i] !== '`') {
      if (source[i] === '\\') {
        text += source.slice(i, i + 2);
        i += 2;
      } else if (source.startsWith('${', i)) {
        i += 2;
        code(true);
        text += '{…}';
      } else text += source[i++];
    }
    i++;
    return text;
  };
  /** Scans code up to the end, or past the `}` closing an interpolation. */
  const code = (interpolation: boolean): void => {
    let depth = 0;
    while (i < source.length) {
      const c = source[i] as string;
      if (source.startsWith('//', i))
        i = source.indexOf('\n', i) === -1 ? source.length : source.indexOf('\n', i);
      else if (source.startsWith('/*', i)) i = source.indexOf('*/', i + 2) + 2 || source.length;
      else if (c === "'" || c === '"') found.push(quoted(c));
      else if (c === '`') found.push(template());
      else if (c === '/' && regexAllowed()) {
        let inClass = false;
        for (i++; i < source.length && (inClass || source[i] !== '/'); i++) {
          if (source[i] === '\\') i++;
          else if (source[i] === '[') inClass = true;
          else if (source[i] === ']') inClass = false;
        }
        i++;
      } else if (c === '{') {
        depth++;
        i++;
      } else if (c === '}') {
        i++;
        if (interpolation && depth-- === 0) return;
      } else i++;
    }
  };
  code(false);
  return found;
}

const prefixes = [...Object.values(layout.OFFLINE_PREFIX), ...Object.values(layout.ARTIFACT_PREFIX)];
const names = new Set<string>([
  ...Object.values(layout.ENV),
  ...Object.values(layout.CLI_ENV),
  layout.FEATURE_VIEWS_DEFINE,
  layout.MODELS_DEFINE,
  layout.TRAINED_MODELS_DEFINE,
  // The online item's distinctive attribute names (`pk` and `expiresAt` name the lease table's too).
  layout.ONLINE_ITEM.eventTime,
  layout.ONLINE_ITEM.ingestedAt,
]);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A literal that starts with a storage prefix, or has one right after an interpolation (`{…}/features/`). */
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

  it('is the only place storage prefixes, environment names, online attributes and registry keys are written out', () => {
    const offenders = ['lambdas', 'lib', 'bin', 'local']
      .flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => file !== LAYOUT)
      .flatMap((file) => restated(file).map((text) => `${path.relative(ROOT, file)}: ${text}`));
    expect(offenders).toEqual([]);
  });

  it('finds literals nested in template interpolations, and none in comments or regular expressions', () => {
    const source = [
      `const a = \`\${x ? \`features/\${v}/\` : 'landing/'}\`; // 'datasets/'`,
      "/* 'models/' */ const re = /'[^']*'/; const b = n / 2; const c = 'staging/';",
    ].join('\n');
    expect(literals(source)).toEqual(['features/{…}/', 'landing/', '{…}', 'staging/']);
  });

  it('names the feature views define as the bundles read it (an identifier, not importable)', () => {
    const source = readFileSync(path.join(ROOT, 'lambdas/feature-store/configured-views.ts'), 'utf8');
    const declared = /^declare const (\w+)\b/m.exec(source)?.[1];
    expect(declared).toBe(layout.FEATURE_VIEWS_DEFINE);
    const uses = source.match(/\b__\w+__\b/g) ?? [];
    expect(uses.length).toBeGreaterThan(1);
    expect(new Set(uses)).toEqual(new Set([layout.FEATURE_VIEWS_DEFINE]));
  });

  it('names the models define as the registry bundles read it (an identifier, not importable)', () => {
    const source = readFileSync(path.join(ROOT, 'lambdas/registry/configured-models.ts'), 'utf8');
    const declared = /^declare const (\w+)\b/m.exec(source)?.[1];
    expect(declared).toBe(layout.MODELS_DEFINE);
    const uses = source.match(/\b__\w+__\b/g) ?? [];
    expect(uses.length).toBeGreaterThan(1);
    expect(new Set(uses)).toEqual(new Set([layout.MODELS_DEFINE]));
  });

  it('names the trained models define as the training bundles read it (an identifier, not importable)', () => {
    const source = readFileSync(path.join(ROOT, 'lambdas/training/pipeline/configured-models.ts'), 'utf8');
    const declared = /^declare const (\w+)\b/m.exec(source)?.[1];
    expect(declared).toBe(layout.TRAINED_MODELS_DEFINE);
    const uses = source.match(/\b__\w+__\b/g) ?? [];
    expect(uses.length).toBeGreaterThan(1);
    expect(new Set(uses)).toEqual(new Set([layout.TRAINED_MODELS_DEFINE]));
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
