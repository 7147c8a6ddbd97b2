/**
 * Synthesis in a child process: `node --import tsx local/synth-process.ts '<spec JSON>'`
 * synthesizes what `spec` names into `spec.outdir` (what `synthesize` in ./assembly.ts builds).
 * Bundling runs esbuild synchronously, a dozen seconds and more for the whole app; a test worker
 * that did it in-process would stop answering its runner for that long.
 */
import { pathToFileURL } from 'node:url';
import type { App } from 'aws-cdk-lib';
import { type SynthesisSpec, synthesize } from './assembly.js';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as SynthesisSpec & { outdir: string };
  let build: ((app: App) => void) | undefined;
  if (spec.stack) {
    const { module, exportName, id } = spec.stack;
    const loaded = (await import(pathToFileURL(module).href)) as Record<string, unknown>;
    const StackClass = loaded[exportName] as (new (app: App, id: string) => unknown) | undefined;
    if (typeof StackClass !== 'function') throw new Error(`${module} exports no ${exportName}`);
    build = (app) => void new StackClass(app, id);
  }
  synthesize(build, { outdir: spec.outdir, context: spec.context });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
