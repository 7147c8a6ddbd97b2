/**
 * Runs a state machine from the synthesized template with aws-local-stepfunctions, dispatching
 * each Lambda task in-process to the function's bundle (local/lambda-runtime.ts) with the shapes
 * AWS uses, so Retry, Catch, Choice, Map and Parallel behave as they do in AWS:
 * - `arn:aws:states:::lambda:invoke` returns `{ ExecutedVersion, Payload, StatusCode, ... }`;
 *   a plain function ARN returns the payload itself;
 * - a failed function raises its errorType as the error name, with AWS's Cause JSON
 *   (`{"errorMessage","errorType","trace"}`).
 * Other task resources (e.g. SageMaker `.sync`) need a local implementation passed by state name;
 * the guard (asl-guard.ts) refuses definitions the interpreter would not run faithfully. Harness
 * failures are fatal: a state machine's Catch cannot swallow them.
 */
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { assertRunsFaithfully, forEachState, isLambdaResource, taskStates } from './asl-guard.js';
import type { CfnResource, StackArtifact } from './assembly.js';
import { HarnessError, LambdaFunctionError, type LocalLambdas } from './lambda-runtime.js';
import type { ProvisionedStack } from './provision.js';

type Json = Record<string, unknown>;
type LocalImplementation = (input: unknown) => Promise<unknown> | unknown;

/** The parts of aws-local-stepfunctions' event log the runner reads (its EventLog type is not exported). */
type ExecutionEvent = { timestamp: number } & (
  | { type: 'StateEntered'; state: { name: string; type: string } }
  | { type: 'StateExited'; state: { name: string; type: string; input: unknown; output?: unknown } }
  | {
      type: 'StateFailed';
      state: { name: string; type: string; input: unknown };
      Error: string;
      Cause: unknown;
    }
  | { type: 'StateRetried'; state: { name: string } }
  | { type: 'ExecutionFailed'; Error: string; Cause: unknown }
  | { type: 'Other' }
);

/** A step of a running execution, as {@link RunOptions.onEvent} reports it. */
export interface RunnerEvent {
  readonly type: 'entered' | 'exited' | 'failed' | 'retried';
  /** The state's name. */
  readonly state: string;
  /** Epoch ms. */
  readonly timestamp: number;
  /** `failed`: the error name and its cause. */
  readonly error?: string;
  readonly cause?: string;
  /** `exited`: the state's output (progress that reads a step's result, e.g. a canary's verdict). */
  readonly output?: unknown;
}

export interface RunOptions {
  /** Local implementations of non-Lambda task states, by state name. Name them in the test. */
  readonly serviceIntegrations?: Readonly<Record<string, LocalImplementation>>;
  /** Keep the definition's Retry intervals (default: retried at once, counts unchanged). */
  readonly realRetryIntervals?: boolean;
  /** Wait state durations in ms, by state name (default: every Wait state takes 0 ms). */
  readonly waitOverridesMs?: Readonly<Record<string, number>>;
  /** Execution name (for `$$.Execution.Name`). @default a random UUID */
  readonly executionName?: string;
  /** Told of each state entered, exited, failed (an attempt) or retried, as it happens (progress, logs). */
  readonly onEvent?: (event: RunnerEvent) => void;
  /**
   * Awaited before each attempt of a task state runs, with the state's name and its task input:
   * what a test or a demo does at that point of the execution (e.g. put the metric data the next
   * analysis reads). Its error ends the run as a harness failure.
   */
  readonly beforeTask?: (state: string, input: unknown) => Promise<void> | void;
}

export interface StateRecord {
  readonly name: string;
  readonly type: string;
  readonly input: unknown;
  readonly output?: unknown;
  /** Error name when the state failed (and was caught, or ended the execution). */
  readonly error?: string;
}

export interface ExecutionResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /**
   * States that finished, in order: one record per exit (with `error` set when a Catch routed the
   * state onward), plus the failures that ended a failed execution.
   */
  readonly states: StateRecord[];
  /** Retries per state name. */
  readonly retries: Record<string, number>;
}

const MIN_NODE_MAJOR = 22;

export class StateMachineRunner {
  readonly definition: Json;

  constructor(
    definition: Json,
    private readonly lambdas: LocalLambdas,
    readonly name: string,
    readonly arn: string,
  ) {
    this.definition = definition;
  }

  /**
   * The state machine `id` in `stack`: its logical id, the start of its logical id (CDK appends a
   * hash), or its construct path with or without the stack name (`Workflow/StateMachine`).
   */
  static fromStack(
    stack: StackArtifact,
    provisioned: ProvisionedStack,
    lambdas: LocalLambdas,
    id: string,
  ): StateMachineRunner {
    const machines = Object.entries(stack.template.Resources).filter(
      ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    const constructPath = (r: CfnResource) => String(r.Metadata?.['aws:cdk:path'] ?? '');
    const byPath = (r: CfnResource) =>
      [id, `${id}/Resource`].some((p) => [p, `${stack.stackName}/${p}`].includes(constructPath(r)));
    const exact = machines.filter(([logicalId, r]) => logicalId === id || byPath(r));
    const matches = exact.length > 0 ? exact : machines.filter(([logicalId]) => logicalId.startsWith(id));
    const [match] = matches;
    if (match === undefined || matches.length > 1) {
      throw new HarnessError(
        `expected one state machine matching ${id}, found ${matches.map(([l]) => l).join(', ') || 'none'} ` +
          `(state machines: ${machines.map(([l, r]) => `${l} ${constructPath(r)}`.trim()).join(', ') || 'none'})`,
      );
    }
    const [logicalId, resource] = match;
    const props = resource.Properties ?? {};
    if (props.DefinitionS3Location !== undefined)
      throw new HarnessError(`${logicalId}: DefinitionS3Location is not supported locally`);
    let definition: Json;
    if (props.DefinitionString !== undefined) {
      let text = String(provisioned.resolve(props.DefinitionString, logicalId));
      const substitutions = provisioned.resolve(props.DefinitionSubstitutions ?? {}, logicalId) as Record<
        string,
        unknown
      >;
      text = text.replace(/\$\{([^}]+)\}/g, (whole, key: string) =>
        key in substitutions ? String(substitutions[key]) : whole,
      );
      definition = JSON.parse(text) as Json;
    } else {
      definition = provisioned.resolve(props.Definition, logicalId) as Json;
    }
    const state = provisioned.context.resources[logicalId];
    return new StateMachineRunner(
      definition,
      lambdas,
      state?.attributes.Name ?? logicalId,
      state?.attributes.Arn ?? logicalId,
    );
  }

  /** The ARN an execution of this name has (`$$.Execution.Id`). */
  executionArn(executionName: string): string {
    return `${this.arn.replace(':stateMachine:', ':execution:')}:${executionName}`;
  }

  /** Runs one execution to its end. Harness failures reject; the machine's own failures resolve as FAILED. */
  async run(input: unknown, options: RunOptions = {}): Promise<ExecutionResult> {
    const major = Number(process.versions.node.split('.')[0]);
    if (major < MIN_NODE_MAJOR) {
      throw new HarnessError(
        `aws-local-stepfunctions needs Node.js ${MIN_NODE_MAJOR}+; this is ${process.version}`,
      );
    }
    const implementations = options.serviceIntegrations ?? {};
    assertRunsFaithfully(this.definition, new Set(Object.keys(implementations)));

    let harnessError: unknown;
    let abort = () => {};
    // A harness failure is recorded, stops the execution and is rethrown by run(); the interpreter
    // is also told it is neither retryable nor catchable, so no Retry or Catch sees it meanwhile.
    const fatal = (error: unknown): never => {
      harnessError ??= error;
      abort();
      const stop = new HarnessError(`harness failure (rethrown by run()): ${String(error)}`);
      throw Object.assign(stop, { isRetryable: false, isCatchable: false });
    };
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    const retryIntervals: Record<string, number> = {};
    for (const task of taskStates(this.definition)) {
      const before = options.beforeTask;
      handlers[task.name] = isLambdaResource(task.resource)
        ? async (taskInput) => {
            if (before !== undefined) await Promise.resolve(before(task.name, taskInput)).catch(fatal);
            return this.invokeLambda(task.resource, taskInput).catch((error) => {
              if (error instanceof LambdaFunctionError) throw awsTaskError(error);
              return fatal(error);
            });
          }
        : async (taskInput) => {
            if (before !== undefined) await Promise.resolve(before(task.name, taskInput)).catch(fatal);
            const implementation = implementations[task.name];
            if (implementation === undefined)
              return fatal(new HarnessError(`no local implementation for ${task.name}`));
            // Errors a local implementation throws are the service's: Retry and Catch see them.
            return JSON.parse(JSON.stringify((await implementation(taskInput)) ?? null));
          };
    }
    const waits: Record<string, number> = {};
    forEachState(this.definition, (name, state) => {
      if (state.Retry && !options.realRetryIntervals) retryIntervals[name] = 0;
      if (state.Type === 'Wait') waits[name] = options.waitOverridesMs?.[name] ?? 0;
    });

    const executionName = options.executionName ?? randomUUID();
    const machine = new StateMachine(withAwsTaskTimeouts(this.definition) as never, {
      validationOptions: { checkPaths: true },
    });
    const execution = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        retryIntervalOverrides: retryIntervals,
        waitTimeOverrides: waits,
      },
      context: {
        Execution: {
          Id: this.executionArn(executionName),
          Input: input,
          Name: executionName,
          RoleArn: 'arn:aws:iam::000000000000:role/local',
          StartTime: new Date().toISOString(),
        },
        StateMachine: { Id: this.arn, Name: this.name },
      } as never,
    });
    abort = execution.abort;

    const states: StateRecord[] = [];
    const retries: Record<string, number> = {};
    let failure: { error?: string; cause?: string } = {};
    // One record per finished state: exits (with the caught error when a Catch routed it) and,
    // when the execution fails, the failure that ended it. Failed attempts that were retried only
    // count in `retries`.
    const failedAttempts = new Map<string, StateRecord>();
    const collect = (async () => {
      for await (const event of execution.eventLogs as AsyncGenerator<ExecutionEvent>) {
        if (options.onEvent !== undefined) report(event, options.onEvent);
        if (event.type === 'StateExited') {
          const caught = failedAttempts.get(event.state.name);
          failedAttempts.delete(event.state.name);
          states.push({
            name: event.state.name,
            type: event.state.type,
            input: event.state.input,
            output: event.state.output,
            ...(caught?.error ? { error: caught.error } : {}),
          });
        } else if (event.type === 'StateFailed') {
          failedAttempts.set(event.state.name, {
            name: event.state.name,
            type: event.state.type,
            input: event.state.input,
            error: event.Error,
          });
        } else if (event.type === 'StateRetried') {
          failedAttempts.delete(event.state.name);
          retries[event.state.name] = (retries[event.state.name] ?? 0) + 1;
        } else if (event.type === 'ExecutionFailed') {
          states.push(...failedAttempts.values());
          failure = {
            error: event.Error,
            cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause),
          };
        }
      }
    })();

    let output: unknown;
    let succeeded = false;
    try {
      output = await execution.result;
      succeeded = true;
    } catch (error) {
      if (harnessError === undefined && !(error instanceof Error && error.name === 'ExecutionError'))
        harnessError = error;
    }
    await collect;
    if (harnessError !== undefined) throw harnessError;
    return succeeded
      ? { status: 'SUCCEEDED', output, states, retries }
      : { status: 'FAILED', ...failure, states, retries };
  }

  private async invokeLambda(resource: string, taskInput: unknown): Promise<unknown> {
    if (resource !== 'arn:aws:states:::lambda:invoke') return this.lambdas.invoke(resource, taskInput);
    const { FunctionName, Payload } = (taskInput ?? {}) as { FunctionName?: string; Payload?: unknown };
    if (typeof FunctionName !== 'string')
      throw new HarnessError('lambda:invoke task without a FunctionName parameter');
    const payload = await this.lambdas.invoke(FunctionName, Payload);
    const requestId = randomUUID();
    return {
      ExecutedVersion: '$LATEST',
      Payload: payload,
      SdkHttpMetadata: { HttpHeaders: { 'x-amzn-RequestId': requestId }, HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: requestId },
      StatusCode: 200,
    };
  }
}

/** Tells `onEvent` of a state's step; other events (execution, Map iteration, branch) are not reported. */
function report(event: ExecutionEvent, onEvent: (event: RunnerEvent) => void): void {
  const at = { timestamp: event.timestamp };
  if (event.type === 'StateEntered') onEvent({ type: 'entered', state: event.state.name, ...at });
  else if (event.type === 'StateExited')
    onEvent({
      type: 'exited',
      state: event.state.name,
      ...at,
      ...(event.state.output === undefined ? {} : { output: event.state.output }),
    });
  else if (event.type === 'StateRetried') onEvent({ type: 'retried', state: event.state.name, ...at });
  else if (event.type === 'StateFailed')
    onEvent({
      type: 'failed',
      state: event.state.name,
      ...at,
      error: event.Error,
      cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause),
    });
}

/**
 * The interpreter times a Task out after 60 s unless it sets TimeoutSeconds; AWS's default is
 * 99999999 s. Tasks without a timeout get the longest a Node timer allows (~24.8 days), so a long
 * task is not failed locally with States.Timeout where AWS would let it run. Returns a copy.
 */
export function withAwsTaskTimeouts(definition: Json): Json {
  const copy = structuredClone(definition);
  forEachState(copy, (_name, state) => {
    if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined)
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
  });
  return copy;
}

const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function awsTaskError(error: LambdaFunctionError): Error {
  const failure = new Error(
    JSON.stringify({ errorMessage: error.errorMessage, errorType: error.errorType, trace: error.trace }),
  );
  failure.name = error.errorType;
  return failure;
}
