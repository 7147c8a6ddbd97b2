/**
 * Integration tests' global setup (vitest runs it once, in the main process): starts the AWS API
 * emulator (or attaches to AWS_ENDPOINT_URL) and synthesizes the real app once, then hands both to
 * the test workers through `inject`. A missing emulator fails the run with instructions; it never
 * skips tests. The returned teardown stops the emulator.
 */
import type { TestProject } from 'vitest/node';
import { synthesize } from '../../local/assembly.js';
import { startEmulator } from '../../local/emulator.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator();
  try {
    project.provide('awsEndpoint', emulator.endpoint);
    project.provide('assemblyDir', synthesize().dir);
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  return () => emulator.stop();
}
