/**
 * onnxruntime-node's postinstall script downloads CUDA binaries from outside the npm registry unless
 * told to skip. npm 11 warns that an unknown `.npmrc` key (the old `onnxruntime-node-install=skip`)
 * "will stop working in the next major version", so the skip must not depend on one: `.npmrc` sets
 * npm's documented `node-options`, whose preload sets `ONNXRUNTIME_NODE_INSTALL=skip`, the variable
 * the script reads first (node_modules/onnxruntime-node/script/install-utils.js, parseInstallFlag).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/mlops-function.js';

/** Runs `command` the way npm runs a lifecycle script in this project, without inherited npm settings. */
function underNpm(command: string, extra: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Drop what the npm running this test exported, so only the project's own files count.
    if (!/^(npm_|ONNXRUNTIME_NODE_INSTALL|NODE_OPTIONS$)/i.test(key)) env[key] = value;
  }
  const result = spawnSync('npm', ['exec', '--offline', '-c', command], {
    cwd: PROJECT_ROOT,
    env: { ...env, ...extra },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

const PARSE_FLAG = `node -p "require('onnxruntime-node/script/install-utils.js').parseInstallFlag()"`;

describe('onnxruntime-node install skip', () => {
  it('is what the install script reads, even once npm stops exporting unknown .npmrc keys', () => {
    // `env -u` stands in for the next npm major, which drops unknown keys instead of exporting them.
    const run = underNpm(`env -u npm_config_onnxruntime_node_install ${PARSE_FLAG}`);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('false'); // false = skip (undefined would download CUDA on linux/x64)
  });

  it('needs no config key npm warns about', () => {
    const run = underNpm(PARSE_FLAG);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/Unknown (project|user|env) config/);
  });

  it('keeps a NODE_OPTIONS the user set, and lets the user ask for CUDA explicitly', () => {
    const run = underNpm(`node -p "process.env.NODE_OPTIONS + ' ' + process.env.ONNXRUNTIME_NODE_INSTALL"`, {
      NODE_OPTIONS: '--max-old-space-size=300',
      ONNXRUNTIME_NODE_INSTALL: 'cuda12',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^--max-old-space-size=300 --import=\S+ cuda12$/);
  });
});
