/**
 * Cloud assemblies for test files: synthesized in a child process, never in the test worker
 * (bundling runs esbuild synchronously, and a worker that stops answering vitest for 60 s fails
 * the run), and shared within one run: the first file that asks for a spec synthesizes it, the
 * others wait for it. The cache lives under the directory `assembly-cache.setup.ts` provides.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { type Assembly, loadAssembly, type SynthesisSpec, synthesizeInChild } from '../../local/assembly.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const WAIT_MS = 10 * 60_000;

/** The assembly `spec` describes, synthesized once per run. */
export async function assemblyFor(spec: SynthesisSpec = {}): Promise<Assembly> {
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  const dir = path.join(inject('assemblyCache'), key);
  const failed = `${dir}.failed`;
  let owner = false;
  try {
    mkdirSync(`${dir}.lock`);
    owner = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (owner) {
    try {
      await synthesizeInChild(spec, `${dir}.building`);
      renameSync(`${dir}.building`, dir);
    } catch (error) {
      writeFileSync(failed, error instanceof Error ? error.message : String(error));
      throw error;
    }
    return loadAssembly(dir);
  }
  for (const started = Date.now(); Date.now() - started < WAIT_MS; await sleep(250)) {
    if (existsSync(dir)) return loadAssembly(dir);
    if (existsSync(failed))
      throw new Error(`synthesis in another test file failed: ${readFileSync(failed, 'utf8')}`);
  }
  throw new Error(
    `waited ${WAIT_MS / 60_000} min for another test file to synthesize ${JSON.stringify(spec)}`,
  );
}

/** The harness's own fixture stack (test/fixtures/harness-stack.ts) under construct id `id`. */
export function harnessFixture(id: string): SynthesisSpec {
  return {
    stack: {
      module: path.join(ROOT, 'test', 'fixtures', 'harness-stack.ts'),
      exportName: 'HarnessFixtureStack',
      id,
    },
  };
}
