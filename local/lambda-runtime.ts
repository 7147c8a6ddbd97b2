/**
 * Runs the stack's Lambda functions in-process: each function's code is the esbuild bundle CDK
 * wrote into the assembly (`aws:asset:path` + `Handler`), i.e. exactly what deploys; its environment
 * is its template `Environment.Variables` with intrinsics resolved against the provisioned names.
 *
 * Environment rule: handlers read configuration at cold start (module scope), as ours do.
 * `process.env` is shared by everything in the process, so before loading a function and before
 * each invocation the runtime takes back the variables it set for the previous function and sets
 * this function's (its template `Environment.Variables` plus Lambda's own `AWS_LAMBDA_FUNCTION_NAME`,
 * `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_LOG_GROUP_NAME`,
 * `_HANDLER`). Cold starts are serialized, and a warm invocation waits for a cold start under way
 * (an import awaits between reading and evaluating the module), so module scope always sees its own
 * function's variables; the synchronous start of a handler does too. A handler that reads `process.env` after
 * an `await` may see another function's values when invocations overlap (Map, Parallel).
 * `NODE_OPTIONS` is not applied: it configures a process at start-up, and this one is running.
 *
 * Each function gets its own module instance (two functions built from one bundle do not share
 * module state), kept between invocations like a warm Lambda.
 *
 * Published versions: {@link LocalLambdas.invokeVersion} runs a version as the emulator's Lambda API
 * holds it (local/provision.ts creates functions, versions and aliases there): its environment,
 * timeout and memory are the version's configuration (GetFunctionConfiguration with the version as
 * qualifier, e.g. the MODEL_VERSION `pinModelVersion` set before publishing), read once (a
 * published version is immutable), and it gets its own module instance, so two versions of one
 * function each keep the configuration they started with, as two Lambda versions do.
 *
 * Packages a bundle leaves external (`@aws-sdk/*`, which the Lambda runtime provides, and what a
 * layer provides) resolve from the project's node_modules, as the runtime and layers provide them
 * in Lambda: the assembly usually sits in a temporary directory with no node_modules above it.
 * (Under vitest its module runner resolves them from the project root already.)
 */

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire, isBuiltin, registerHooks } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { clients } from '../lambdas/shared/clients.js';
import type { Assembly, StackArtifact } from './assembly.js';
import type { ProvisionedStack } from './provision.js';

type Handler = (event: unknown, context: LambdaContext) => Promise<unknown>;

export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** A failure {@link LocalLambdas.injectFailures} makes an invocation report. */
interface InjectedFailure {
  readonly error: LambdaFunctionError;
  /** The function runs first; only its answer is lost. */
  readonly afterRunning: boolean;
}

/** A function failed the way Lambda reports it: `name` is the errorType. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[],
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

/** The harness itself failed (missing bundle, unknown function): never the function's fault. */
export class HarnessError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HarnessError';
  }
}

interface LocalFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly bundleFile: string;
  readonly exportName: string;
  readonly environment: Record<string, string>;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  /** Node.js major version of the function's runtime (`nodejs24.x` → 24), if it is a Node runtime. */
  readonly nodeMajor: number | undefined;
  /** `$LATEST` (the template's configuration), or a published version's number. */
  readonly version: string;
  handler?: Handler;
}

/** Variables a function's environment may not set in this process (Lambda reserves them too). */
const NOT_APPLIED = new Set(['NODE_OPTIONS', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL']);

function bundleFileOf(dir: string, moduleName: string): string | undefined {
  for (const extension of ['.mjs', '.js', '.cjs']) {
    const file = path.join(dir, `${moduleName}${extension}`);
    if (existsSync(file)) return file;
  }
  return undefined;
}

const PROJECT_PACKAGE_URL = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'),
).href;
const projectRequire = createRequire(PROJECT_PACKAGE_URL);
/** Assembly directories (as file URL prefixes) whose bundles resolve bare imports from the project. */
const assemblyUrls = new Set<string>();
let hooksRegistered = false;

function resolveExternalsFromProject(assemblyDir: string): void {
  assemblyUrls.add(`${pathToFileURL(path.resolve(assemblyDir)).href}/`);
  if (hooksRegistered) return;
  hooksRegistered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const bare = !/^(?:[./]|node:|file:|data:)/.test(specifier);
      const fromBundle = [...assemblyUrls].some((url) => context.parentURL?.startsWith(url));
      if (!(bare && fromBundle)) return nextResolve(specifier, context);
      // A bundle's require() (its createRequire banner) resolves as CommonJS from the project: the
      // hook's ESM resolution would hand CommonJS packages (onnxruntime-node) a wrong filename.
      if (context.conditions?.includes('require')) {
        const file = projectRequire.resolve(specifier);
        return { url: isBuiltin(file) ? `node:${file}` : pathToFileURL(file).href, shortCircuit: true };
      }
      return nextResolve(specifier, { ...context, parentURL: PROJECT_PACKAGE_URL });
    },
  });
}

function nodeMajorOf(runtime: string | undefined): number | undefined {
  const major = /^nodejs(\d+)\.x$/.exec(runtime ?? '')?.[1];
  return major === undefined ? undefined : Number(major);
}

export class LocalLambdas {
  private readonly byName = new Map<string, LocalFunction>();
  private readonly byLogicalId = new Map<string, LocalFunction>();
  /** Values the variables this runtime last set had before it set them (undefined: unset). */
  private readonly saved = new Map<string, string | undefined>();
  /** The function whose environment process.env holds now (re-applied only when another runs). */
  private applied: LocalFunction | undefined;
  private readonly variablesOf = new WeakMap<LocalFunction, Readonly<Record<string, string>>>();
  /** Cold starts run one at a time (each sets the environment its module scope reads). */
  private coldStarts: Promise<unknown> = Promise.resolve();
  /** Injected failures by logical id, taken one per invocation (see {@link injectFailures}). */
  private readonly injected = new Map<string, InjectedFailure[]>();
  /** Published versions by `<logical id>:<version>`, configured as the emulator holds them. */
  private readonly versions = new Map<string, Promise<LocalFunction>>();

  constructor(assembly: Assembly, stack: StackArtifact, provisioned: ProvisionedStack) {
    resolveExternalsFromProject(assembly.dir);
    for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const props = provisioned.resolve(resource.Properties ?? {}, logicalId) as {
        Handler?: string;
        Runtime?: string;
        Timeout?: number;
        MemorySize?: number;
        Environment?: { Variables?: Record<string, string> };
      };
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (typeof assetPath !== 'string' || !props.Handler) continue; // inline or non-asset code is not ours
      const dot = props.Handler.lastIndexOf('.');
      const moduleName = props.Handler.slice(0, dot);
      const bundleFile = bundleFileOf(path.join(assembly.dir, assetPath), moduleName);
      if (bundleFile === undefined) {
        throw new HarnessError(`${logicalId}: no bundle ${moduleName}.{mjs,js,cjs} under ${assetPath}`);
      }
      const state = provisioned.context.resources[logicalId];
      const fn: LocalFunction = {
        logicalId,
        name: state?.ref ?? logicalId,
        arn: state?.attributes.Arn ?? logicalId,
        bundleFile,
        exportName: props.Handler.slice(dot + 1),
        environment: props.Environment?.Variables ?? {},
        timeoutMs: (props.Timeout ?? 3) * 1000,
        memoryMb: props.MemorySize ?? 128,
        nodeMajor: nodeMajorOf(props.Runtime),
        version: '$LATEST',
      };
      this.byLogicalId.set(logicalId, fn);
      this.byName.set(fn.name, fn);
      this.byName.set(fn.arn, fn);
    }
  }

  /** Logical ids of the functions that can run locally. */
  get logicalIds(): string[] {
    return [...this.byLogicalId.keys()];
  }

  /** Finds a function by logical id, name or ARN (a version or alias qualifier is ignored). */
  find(reference: string): LocalFunction {
    const unqualified = reference.replace(/^(arn:[^:]+:lambda:[^:]+:[^:]+:function:[^:]+):[^:]+$/, '$1');
    const fn = this.byLogicalId.get(reference) ?? this.byName.get(reference) ?? this.byName.get(unqualified);
    if (fn === undefined) throw new HarnessError(`no local function for ${reference}`);
    return fn;
  }

  /**
   * Makes the next `failures.length` invocations of the function fail with these errors (the
   * function's code does not run), as a crashed or throttled function would: the faults a test
   * cannot provoke through real inputs, e.g. a transient failure that Retry must absorb. With
   * `afterRunning` the code runs to completion first and only its answer is lost (a timeout of the
   * caller, a dropped connection): the retry meets the work already done. The test names each
   * injection.
   */
  injectFailures(
    reference: string,
    failures: readonly { errorType: string; errorMessage: string; afterRunning?: boolean }[],
  ): void {
    const fn = this.find(reference);
    this.injected.set(fn.logicalId, [
      ...(this.injected.get(fn.logicalId) ?? []),
      ...failures.map((f) => ({
        error: new LambdaFunctionError(f.errorType, f.errorMessage, []),
        afterRunning: f.afterRunning === true,
      })),
    ]);
  }

  /**
   * Invokes a function with a JSON round-trip of event and result, like Lambda. A handler error
   * comes back as {@link LambdaFunctionError}; exceeding the function's timeout as
   * `Sandbox.Timedout`.
   */
  async invoke(reference: string, event: unknown): Promise<unknown> {
    const fn = this.find(reference);
    const injected = this.injected.get(fn.logicalId)?.shift();
    if (injected !== undefined && !injected.afterRunning) throw injected.error;
    if (injected !== undefined) {
      await this.run(fn, event);
      throw injected.error;
    }
    return this.run(fn, event);
  }

  /**
   * Invokes a published version of a function (`version` its number; `$LATEST` is
   * {@link invoke}) with that version's configuration as the emulator's Lambda API holds it, in
   * the version's own module instance (see the module doc).
   */
  async invokeVersion(
    reference: string,
    version: string,
    event: unknown,
    payload?: string,
  ): Promise<unknown> {
    if (version === '$LATEST') return this.invoke(reference, event);
    if (!/^[1-9]\d*$/.test(version))
      throw new HarnessError(`${reference}: ${version} is not a published version number`);
    const fn = this.find(reference);
    const key = `${fn.logicalId}:${version}`;
    let loading = this.versions.get(key);
    if (loading === undefined) {
      loading = this.versionOf(fn, version);
      this.versions.set(key, loading);
      loading.catch(() => this.versions.delete(key));
    }
    return this.run(await loading, event, payload);
  }

  /** The function as its published `version` is configured in the emulator. */
  private async versionOf(fn: LocalFunction, version: string): Promise<LocalFunction> {
    const config = await clients
      .lambda()
      .send(new GetFunctionConfigurationCommand({ FunctionName: fn.name, Qualifier: version }));
    if (config.Version !== version)
      throw new HarnessError(`${fn.name}: the emulator answered version ${config.Version} for ${version}`);
    return {
      ...fn,
      arn: `${fn.arn}:${version}`,
      environment: config.Environment?.Variables ?? {},
      timeoutMs: (config.Timeout ?? fn.timeoutMs / 1000) * 1000,
      memoryMb: config.MemorySize ?? fn.memoryMb,
      version,
      handler: undefined,
    };
  }

  /** `payload`: `event` already serialized (JSON) by the caller, parsed instead of serialized again. */
  private async run(fn: LocalFunction, event: unknown, payload?: string): Promise<unknown> {
    const major = Number(process.versions.node.split('.')[0]);
    if (fn.nodeMajor !== undefined && fn.nodeMajor !== major) {
      throw new HarnessError(
        `${fn.logicalId} runs on Node.js ${fn.nodeMajor} in Lambda; this process is ${process.version}`,
      );
    }
    if (fn.handler === undefined) {
      const loading = this.coldStarts.then(() => this.load(fn));
      this.coldStarts = loading.catch(() => undefined);
      await loading;
    } else {
      // Not while another function's module scope is being imported: it reads process.env across
      // the import's awaits, and setting this function's variables meanwhile would hand it ours.
      await this.coldStarts;
    }
    const handler = fn.handler as Handler | undefined;
    if (handler === undefined) throw new HarnessError(`${fn.logicalId}: handler not loaded`);
    this.applyEnvironment(fn);
    const deadline = Date.now() + fn.timeoutMs;
    const context: LambdaContext = {
      functionName: fn.name,
      functionVersion: fn.version,
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LambdaFunctionError(
              'Sandbox.Timedout',
              `Task timed out after ${fn.timeoutMs / 1000} seconds`,
              [],
            ),
          ),
        fn.timeoutMs,
      );
    });
    try {
      const result = await Promise.race([
        handler(JSON.parse(payload ?? JSON.stringify(event ?? null)), context),
        timeout,
      ]);
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (error) {
      if (error instanceof LambdaFunctionError) throw error;
      const e = error instanceof Error ? error : new Error(String(error));
      throw new LambdaFunctionError(e.name || 'Error', e.message, (e.stack ?? '').split('\n'));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads a function's module (its own instance) with its environment set. */
  private async load(fn: LocalFunction): Promise<void> {
    if (fn.handler !== undefined) return;
    this.applyEnvironment(fn);
    // The query string gives each function its own module instance (import() caches by URL).
    const url = `${pathToFileURL(fn.bundleFile).href}?function=${encodeURIComponent(fn.logicalId)}${
      fn.version === '$LATEST' ? '' : `&version=${fn.version}`
    }`;
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new HarnessError(`${fn.logicalId}: cannot load ${fn.bundleFile}: ${String(error)}`, {
        cause: error,
      });
    }
    const handler = module[fn.exportName];
    if (typeof handler !== 'function')
      throw new HarnessError(`${fn.bundleFile} exports no function ${fn.exportName}`);
    fn.handler = handler as Handler;
  }

  /** Takes back the variables set for the previous function and sets `fn`'s (see the module doc). */
  private applyEnvironment(fn: LocalFunction): void {
    // A warm sandbox keeps its process.env, changes included: the same function again needs nothing.
    if (this.applied === fn) return;
    this.applied = fn;
    for (const [key, value] of this.saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    this.saved.clear();
    let variables = this.variablesOf.get(fn);
    if (variables === undefined) {
      variables = {
        ...Object.fromEntries(Object.entries(fn.environment).filter(([key]) => !NOT_APPLIED.has(key))),
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: fn.version,
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
        _HANDLER: `${path.basename(fn.bundleFile).replace(/\.[^.]+$/, '')}.${fn.exportName}`,
      };
      this.variablesOf.set(fn, variables);
    }
    for (const [key, value] of Object.entries(variables)) {
      this.saved.set(key, process.env[key]);
      process.env[key] = value;
    }
  }
}
