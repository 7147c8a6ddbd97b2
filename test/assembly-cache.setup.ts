/**
 * Global setup of the infra and integration projects: a directory, fresh for each run, where
 * test/support/assemblies.ts keeps the assemblies test files share. Removed when the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlops-assemblies-'));
  project.provide('assemblyCache', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
