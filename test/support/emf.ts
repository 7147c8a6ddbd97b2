/**
 * The CloudWatch embedded-metric-format documents code prints to stdout, read back in tests (the
 * one metrics module writes EMF; its contract tests read what it wrote, not its internals).
 */
import { vi } from 'vitest';

/** One EMF document: its directives and, at the top level, dimension values and metric values. */
export interface EmfDoc {
  readonly _aws: {
    Timestamp?: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** Holds stdout and console.warn until `release`; what was printed as EMF and warned, then. */
function hold(): { release(): { docs: EmfDoc[]; warnings: unknown[] } } {
  const chunks: string[] = [];
  const warnings: unknown[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args) => warnings.push(args));
  return {
    release() {
      write.mockRestore();
      warn.mockRestore();
      return { docs: parse(chunks), warnings };
    },
  };
}

/** What `run` printed as EMF (stdout held while it runs) and what it warned on the console. */
export function emittedSync<T>(run: () => T): { result: T; docs: EmfDoc[]; warnings: unknown[] } {
  const held = hold();
  let result: T;
  try {
    result = run();
  } catch (error) {
    held.release();
    throw error;
  }
  return { result, ...held.release() };
}

/** {@link emittedSync} for asynchronous `run`. */
export async function emitted<T>(
  run: () => Promise<T>,
): Promise<{ result: T; docs: EmfDoc[]; warnings: unknown[] }> {
  const held = hold();
  let result: T;
  try {
    result = await run();
  } catch (error) {
    held.release();
    throw error;
  }
  return { result, ...held.release() };
}

function parse(chunks: readonly string[]): EmfDoc[] {
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfDoc);
}
