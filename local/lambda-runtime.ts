/**
 * Runs the stack's Lambda functions in-process: each function's code is the esbuild bundle CDK
 * wrote into the assembly (`aws:asset:path` + `Handler`), i.e. exactly what deploys; its environment
 * is its template `Environment.Variables` with intrinsics resolved against the provisioned names.
 *
 * Rule for handlers: read configuration at cold start (module scope), as ours do. `process.env` is
 * shared by every function in the process; the runtime sets a function's variables before loading
 * it and before each invocation.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
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
  constructor(message: string) {
    super(message);
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
  handler?: Handler;
}

function bundleFileOf(dir: string, moduleName: string): string | undefined {
  for (const extension of ['.mjs', '.js', '.cjs']) {
    const file = path.join(dir, `${moduleName}${extension}`);
    if (existsSync(file)) return file;
  }
  return undefined;
}

export class LocalLambdas {
  private readonly byName = new Map<string, LocalFunction>();
  private readonly byLogicalId = new Map<string, LocalFunction>();

  constructor(assembly: Assembly, stack: StackArtifact, provisioned: ProvisionedStack) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const props = provisioned.resolve(resource.Properties ?? {}, logicalId) as {
        Handler?: string;
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
   * Invokes a function with a JSON round-trip of event and result, like Lambda. A handler error
   * comes back as {@link LambdaFunctionError}; exceeding the function's timeout as
   * `Sandbox.Timedout`.
   */
  async invoke(reference: string, event: unknown): Promise<unknown> {
    const fn = this.find(reference);
    Object.assign(process.env, fn.environment, { AWS_LAMBDA_FUNCTION_NAME: fn.name });
    if (fn.handler === undefined) {
      const module = (await import(pathToFileURL(fn.bundleFile).href)) as Record<string, unknown>;
      const handler = module[fn.exportName];
      if (typeof handler !== 'function')
        throw new HarnessError(`${fn.bundleFile} exports no function ${fn.exportName}`);
      fn.handler = handler as Handler;
    }
    const deadline = Date.now() + fn.timeoutMs;
    const context: LambdaContext = {
      functionName: fn.name,
      functionVersion: '$LATEST',
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
        fn.handler(JSON.parse(JSON.stringify(event ?? null)), context),
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
}
