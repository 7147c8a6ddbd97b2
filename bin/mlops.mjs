#!/usr/bin/env node
// `npx mlops`: runs bin/mlops.ts with tsx on the project's own Node.js (the `node` devDependency,
// the Lambda runtime's major version) when installed, else on the Node.js running this shim.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const projectNode = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
const node = existsSync(projectNode) ? projectNode : process.execPath;
const tsx = createRequire(join(root, 'package.json')).resolve('tsx');
const child = spawn(node, ['--import', tsx, join(root, 'bin', 'mlops.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exitCode = code ?? 1;
});
