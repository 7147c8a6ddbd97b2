/**
 * Cloud assemblies for the local harness: synthesize the app in-process (what `cdk synth` builds:
 * same code, cdk.json's feature flags, asset metadata on) or read one `cdk synth` wrote.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp, cdkJsonContext } from '../lib/app.js';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

export interface StackArtifact {
  readonly stackName: string;
  readonly template: CfnTemplate;
}

export interface Assembly {
  /** Directory of the cloud assembly; bundles live under it (`aws:asset:path`). */
  readonly dir: string;
  readonly stacks: readonly StackArtifact[];
}

/** Picks a stack by name; the only stack when there is one. */
export function stackOf(assembly: Assembly, stackName?: string): StackArtifact {
  const stacks = stackName ? assembly.stacks.filter((s) => s.stackName === stackName) : assembly.stacks;
  const [stack] = stacks;
  if (stack === undefined || stacks.length > 1) {
    throw new Error(
      `expected one stack${stackName ? ` named ${stackName}` : ''}; assembly has ${assembly.stacks.map((s) => s.stackName).join(', ') || 'none'}`,
    );
  }
  return stack;
}

/** Reads a cloud assembly directory (manifest.json and the stack templates it lists). */
export function loadAssembly(dir: string): Assembly {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type: string; properties?: { templateFile?: string; stackName?: string } }>;
  };
  const stacks = Object.entries(manifest.artifacts ?? {})
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
    .map(([id, artifact]) => {
      const templateFile = artifact.properties?.templateFile;
      if (!templateFile) throw new Error(`stack artifact ${id} has no templateFile`);
      return {
        stackName: artifact.properties?.stackName ?? id,
        template: JSON.parse(readFileSync(path.join(dir, templateFile), 'utf8')) as CfnTemplate,
      };
    });
  return { dir, stacks };
}

export interface SynthesizeOptions {
  /** Output directory. @default a new temporary directory */
  readonly outdir?: string;
  /** Extra context (e.g. `mlops` configuration overrides). */
  readonly context?: Record<string, unknown>;
}

/**
 * Synthesizes an app in-process, with cdk.json's context plus the asset and construct-path
 * metadata that `cdk synth` adds and a bare `new App()` omits (`aws:asset:path` locates each
 * function's bundle; `aws:cdk:path` names resources by construct path), and returns the assembly. `build` adds the stacks; by default
 * the project's own app.
 */
export function synthesize(
  build: (app: App) => void = (app) => void buildApp(app),
  options: SynthesizeOptions = {},
): Assembly {
  const outdir = options.outdir ?? mkdtempSync(path.join(tmpdir(), 'mlops-assembly-'));
  const app = new App({
    outdir,
    context: {
      ...cdkJsonContext(),
      ...options.context,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:enable-path-metadata': true,
    },
  });
  build(app);
  app.synth();
  return loadAssembly(outdir);
}

/** What `synthesizeInChild` builds: the project's app, or one stack class from a module. */
export interface SynthesisSpec {
  /** Extra context (e.g. `mlops` configuration overrides); JSON only. */
  readonly context?: Record<string, unknown>;
  /** A stack to build instead of the app: `new (module's exportName)(app, id)`. */
  readonly stack?: { readonly module: string; readonly exportName: string; readonly id: string };
}

const SYNTH_PROCESS = path.join(import.meta.dirname, 'synth-process.ts');

/**
 * `synthesize`, run in a child process so the caller's event loop stays free (bundling blocks for
 * as long as esbuild runs). Resolves with the assembly once the child has written it to `outdir`.
 */
export function synthesizeInChild(spec: SynthesisSpec, outdir?: string): Promise<Assembly> {
  const dir = outdir ?? mkdtempSync(path.join(tmpdir(), 'mlops-assembly-'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', SYNTH_PROCESS, JSON.stringify({ ...spec, outdir: dir })],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(loadAssembly(dir));
      else
        reject(
          new Error(`synthesis failed (exit ${code}): ${stderr.trim().split('\n').slice(-20).join('\n')}`),
        );
    });
  });
}
