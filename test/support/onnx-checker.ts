/**
 * The reference ONNX checker (Python `onnx.checker.check_model(full_check=True)`) for tests.
 * Runs scripts/onnx_check.py with the project's `.venv/bin/python`; when `.venv/` lacks the pinned
 * `onnx`, runs scripts/setup-onnx-checker.sh first (once per process), so a clean clone needs no
 * manual step. A missing Python fails the test with the script's instructions; it never skips.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The onnx version scripts/setup-onnx-checker.sh installs (keep the two in step). */
export const PINNED_ONNX_VERSION = '1.23.1';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const CHECK_SCRIPT = path.join(ROOT, 'scripts', 'onnx_check.py');
const SETUP_SCRIPT = path.join(ROOT, 'scripts', 'setup-onnx-checker.sh');

let ready = false;

/** Installs the checker into .venv/ when needed (takes a while the first time: call it in beforeAll). */
export function ensureOnnxChecker(): void {
  if (ready) return;
  const setup = spawnSync('bash', [SETUP_SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  if (setup.status !== 0) {
    throw new Error(`the ONNX checker could not be installed:\n${setup.stderr}${setup.stdout}`);
  }
  ready = true;
}

export interface CheckerVerdict {
  readonly ok: boolean;
  readonly error?: string;
}

/** Runs the reference checker on model bytes. */
export function checkOnnx(bytes: Uint8Array): CheckerVerdict {
  ensureOnnxChecker();
  const dir = mkdtempSync(path.join(tmpdir(), 'onnx-check-'));
  try {
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, bytes);
    const run = spawnSync(PYTHON, [CHECK_SCRIPT, file], { encoding: 'utf8', timeout: 120_000 });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`onnx_check.py printed no verdict:\n${run.stderr}`);
    const verdict = JSON.parse(line) as { ok: boolean; error?: string };
    return verdict.ok ? { ok: true } : { ok: false, error: verdict.error ?? 'unknown' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
