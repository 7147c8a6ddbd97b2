/**
 * The CloudWatch embedded-metric-format documents code prints to stdout, read back in tests (the
 * one metrics module writes EMF; its contract tests read what it wrote, not its internals).
 */
import { vi } from 'vitest';

/** One EMF document: its directives and, at the top level, dimension values and metric values. */
export interface EmfDoc {
  readonly _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** What `run` printed as EMF (stdout held while it runs) and what it warned on the console. */
export function emittedSync<T>(run: () => T): { result: T; docs: EmfDoc[]; warnings: unknown[] } {
  const chunks: string[] = [];
  const warnings: unknown[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args) => warnings.push(args));
  try {
    const result = run();
    return { result, docs: parse(chunks), warnings };
  } finally {
    write.mockRestore();
    warn.mockRestore();
  }
}

/** {@link emittedSync} for asynchronous `run`. */
export async function emitted<T>(
  run: () => Promise<T>,
): Promise<{ result: T; docs: EmfDoc[]; warnings: unknown[] }> {
  const chunks: string[] = [];
  const warnings: unknown[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args) => warnings.push(args));
  try {
    const result = await run();
    return { result, docs: parse(chunks), warnings };
  } finally {
    write.mockRestore();
    warn.mockRestore();
  }
}

function parse(chunks: readonly string[]): EmfDoc[] {
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfDoc);
}
