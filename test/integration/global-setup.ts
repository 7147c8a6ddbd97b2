/**
 * Integration tests' global setup: starts the emulator (or attaches to AWS_ENDPOINT_URL) and
 * synthesizes the real app once, so every test file provisions and runs what deploys.
 */
import type { TestProject } from 'vitest/node';
import { synthesize } from '../../local/assembly.js';
import { startEmulator } from '../../local/emulator.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator();
  try {
    const assembly = synthesize();
    project.provide('awsEndpoint', emulator.endpoint);
    project.provide('assemblyDir', assembly.dir);
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  return () => emulator.stop();
}
