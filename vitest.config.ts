import { defineConfig } from 'vitest/config';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  // Tests run on the Lambda runtime's major version; `npm test` puts it on PATH (devDependency `node`).
  throw new Error(
    `tests need Node.js 24 (the Lambda runtime); this is ${process.version}. Run them with npm test.`,
  );
}

export default defineConfig({
  test: {
    reporters: ['./test/summary-reporter.ts', 'default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/assembly-cache.setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          // Lambda bundles the local harness loads (local/lambda-runtime.ts) run as Lambda runs
          // them: imported by Node itself, never transformed by the test runner, so their
          // externals (onnxruntime-node from the layer, the SDK) resolve through the harness's hooks.
          server: { deps: { external: [/[\\/]asset\.[0-9a-f]{64}[\\/]index\.mjs/] } },
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/assembly-cache.setup.ts', 'test/integration/global-setup.ts'],
          setupFiles: ['test/integration/setup-env.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
