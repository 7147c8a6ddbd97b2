import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { UnsupportedDefinitionError } from '../../local/asl-guard.js';
import type { Assembly } from '../../local/assembly.js';
import { HarnessError } from '../../local/lambda-runtime.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { type RunnerEvent, StateMachineRunner } from '../../local/state-machine-runner.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';

let assembly: Assembly;
let local: LocalStack;

/**
 * Local implementation of the SageMaker `createTrainingJob.sync` state "Train": answers at once
 * with the DescribeTrainingJob shape the downstream ResultSelector reads.
 */
const trainInputs: unknown[] = [];
const trainLocally = (input: unknown) => {
  trainInputs.push(input);
  const { TrainingJobName, OutputDataConfig } = input as {
    TrainingJobName: string;
    OutputDataConfig: { S3OutputPath: string };
  };
  return {
    TrainingJobName,
    TrainingJobStatus: 'Completed',
    ModelArtifacts: {
      S3ModelArtifacts: `${OutputDataConfig.S3OutputPath}${TrainingJobName}/output/model.tar.gz`,
    },
  };
};
const serviceIntegrations = { Train: trainLocally };

beforeAll(async () => {
  assembly = await assemblyFor(harnessFixture('RunnerFixture'));
  local = await startLocalStack(assembly, { prefix: 'runner-' });
});

/** Runs the fixture stack again with its template edited (a copy: the shared one is untouched). */
async function withEditedTemplate(edit: (resources: Record<string, Record<string, unknown>>) => void) {
  const copy = structuredClone(assembly);
  edit(copy.stacks[0]?.template.Resources as never);
  return startLocalStack(copy, { prefix: 'runner-' });
}

const attemptsOf = async (key: string) =>
  (
    await clients
      .documents()
      .send(new GetCommand({ TableName: local.resourceName('Counters'), Key: { pk: key } }))
  ).Item?.attempts;

describe('state machines from the template', () => {
  it('retries a flaky function, maps, and runs the parallel branches with the named SageMaker implementation', async () => {
    const started = performance.now();
    const result = await local
      .stateMachine('Features')
      .run({ key: 'happy', failTimes: 2, items: [1, 2, 3] }, { serviceIntegrations, executionName: 'job-1' });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(result.retries).toEqual({ Flaky: 2 });
    expect(await attemptsOf('happy')).toBe(3);
    expect(performance.now() - started).toBeLessThan(10_000); // the Retry's 30 s and 60 s intervals were not slept
    expect(result.states.map((s) => s.name)).toEqual([
      'Flaky',
      'IsBad',
      'Double',
      'Double',
      'Double',
      'DoubleEach',
      expect.any(String), // the Parallel branches finish in either order
      expect.any(String),
      'TrainAndNote',
    ]);
    expect(new Set(result.states.slice(6, 8).map((s) => s.name))).toEqual(new Set(['Train', 'Note']));
    expect(trainInputs.at(-1)).toMatchObject({
      TrainingJobName: 'job-1', // $$.Execution.Name from the context object
      AlgorithmSpecification: { TrainingImage: 'local/trainer:latest' },
    });
    expect(result.states.filter((s) => s.name === 'Double').map((s) => s.output)).toEqual([
      { value: 2 },
      { value: 4 },
      { value: 6 },
    ]);
    expect(result.output).toEqual({
      key: 'happy',
      failTimes: 2,
      items: [1, 2, 3],
      attempts: 3,
      doubled: [{ value: 2 }, { value: 4 }, { value: 6 }],
      parallel: [
        {
          key: 'happy',
          failTimes: 2,
          items: [1, 2, 3],
          attempts: 3,
          doubled: [{ value: 2 }, { value: 4 }, { value: 6 }],
          training: {
            status: 'Completed',
            artifact: expect.stringMatching(
              /^https:\/\/s3\.us-east-1\.amazonaws\.com\/runner-runnerfixture-data[a-z0-9]+\/models\/job-1\/output\/model\.tar\.gz$/,
            ),
          },
        },
        { noted: true },
      ],
    });
  });

  it('fails with the function error and AWS-shaped cause once the retries are used up', async () => {
    const result = await local
      .stateMachine('Features')
      .run({ key: 'hopeless', failTimes: 10, items: [] }, { serviceIntegrations });

    expect(result.status).toBe('FAILED');
    expect(result.retries).toEqual({ Flaky: 3 });
    expect(await attemptsOf('hopeless')).toBe(4);
    expect(result.error).toBe('TransientError');
    expect(JSON.parse(result.cause ?? '{}')).toEqual({
      errorType: 'TransientError',
      errorMessage: 'attempt 4 failed',
      trace: expect.arrayContaining([expect.stringContaining('TransientError: attempt 4 failed')]),
    });
    expect(result.states.map((s) => [s.name, s.error])).toEqual([['Flaky', 'TransientError']]);
  });

  it('tells onEvent of each state entered, failed, retried and exited, in order, as it runs', async () => {
    const events: RunnerEvent[] = [];
    const result = await local
      .stateMachine('Features')
      .run(
        { key: 'reported', failTimes: 1, bad: true, items: [] },
        { serviceIntegrations, onEvent: (event) => events.push(event) },
      );

    expect(result.status).toBe('SUCCEEDED');
    expect(events.map((e) => [e.type, e.state, e.error])).toEqual([
      ['entered', 'Flaky', undefined],
      ['failed', 'Flaky', 'TransientError'],
      ['retried', 'Flaky', undefined],
      ['exited', 'Flaky', undefined],
      ['entered', 'IsBad', undefined],
      ['exited', 'IsBad', undefined],
      ['entered', 'Reject', undefined],
      ['failed', 'Reject', 'InvalidThing'],
      ['exited', 'Reject', undefined],
      ['entered', 'Rejected', undefined],
      ['exited', 'Rejected', undefined],
    ]);
    expect(events.every((e) => Number.isSafeInteger(e.timestamp))).toBe(true);
    // An exit carries the state's output (what progress reads a step's result from); nothing else does.
    expect(events.filter((e) => e.output !== undefined).every((e) => e.type === 'exited')).toBe(true);
    expect(events.find((e) => e.type === 'exited' && e.state === 'Rejected')?.output).toEqual(result.output);
    expect(JSON.parse(events[1]?.cause ?? '{}')).toMatchObject({ errorType: 'TransientError' });
  });

  it('routes a typed error through Choice to its Catch, with the cause Lambda reports', async () => {
    const result = await local
      .stateMachine('Features')
      .run({ key: 'bad', failTimes: 0, bad: true, items: [] }, { serviceIntegrations });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.map((s) => [s.name, s.error])).toEqual([
      ['Flaky', undefined],
      ['IsBad', undefined],
      ['Reject', 'InvalidThing'],
      ['Rejected', undefined],
    ]);
    const caught = (result.output as { error: { Error: string; Cause: string } }).error;
    expect(caught.Error).toBe('InvalidThing');
    expect(JSON.parse(caught.Cause)).toMatchObject({
      errorType: 'InvalidThing',
      errorMessage: 'the thing is invalid',
    });
  });

  it('wraps a lambda:invoke result as AWS does and passes a plain function ARN result through', async () => {
    const doubleArn = local.lambdas.find(
      local.lambdas.logicalIds.find((id) => id.startsWith('double')) ?? '',
    ).arn;
    const runner = new StateMachineRunner(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: doubleArn, 'Payload.$': '$' },
            ResultPath: '$.invoked',
            Next: 'Direct',
          },
          Direct: { Type: 'Task', Resource: doubleArn, ResultPath: '$.direct', End: true },
        },
      },
      local.lambdas,
      'Wrapping',
      'arn:aws:states:us-east-1:000000000000:stateMachine:Wrapping',
    );

    const result = await runner.run({ value: 5 });

    expect(result.output).toEqual({
      value: 5,
      invoked: expect.objectContaining({
        ExecutedVersion: '$LATEST',
        Payload: { value: 10 },
        StatusCode: 200,
      }),
      direct: { value: 10 },
    });
  });

  it('runs a function by its ARN and does not sleep a Wait unless told to', async () => {
    const started = performance.now();
    const quick = await local.stateMachine('Direct').run({ n: 21 });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(quick.states.map((s) => [s.name, s.output])).toEqual([
      ['DoubleDirect', { value: 42 }],
      ['Cooldown', { value: 42 }],
      ['Done', { value: 42 }],
    ]);

    const waitStarted = performance.now();
    await local.stateMachine('RunnerFixture/Direct').run({ n: 1 }, { waitOverridesMs: { Cooldown: 300 } });
    expect(performance.now() - waitStarted).toBeGreaterThanOrEqual(290);
  });
});

describe('functions in-process', () => {
  const echo = (label: string) => local.lambdas.logicalIds.find((id) => id.startsWith(`Echo${label}`)) ?? '';

  it('gives each function its own module instance, configured from its own environment at cold start', async () => {
    const a1 = await local.lambdas.invoke(echo('A'), {});
    const b1 = await local.lambdas.invoke(echo('B'), {});
    const a2 = await local.lambdas.invoke(echo('A'), {});

    expect([a1, b1, a2]).toMatchObject([
      { label: 'A', invocations: 1 },
      { label: 'B', invocations: 1 },
      { label: 'A', invocations: 2 },
    ]);
  });

  it('passes a Lambda-shaped context and sets the function name in the environment', async () => {
    const fn = local.lambdas.find(echo('B'));
    const result = (await local.lambdas.invoke(fn.arn, {})) as Record<string, unknown>;

    expect(result).toMatchObject({ functionName: fn.name, envFunctionName: fn.name });
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.remainingMs).toBeGreaterThan(25_000); // MlopsFunction's 30 s timeout
  });

  it('takes back the variables it set for the previous function', async () => {
    await local.lambdas.invoke(echo('A'), {});
    expect(process.env.LABEL).toBe('A');

    await local.lambdas.invoke(local.lambdas.logicalIds.find((id) => id.startsWith('double')) ?? '', {
      value: 1,
    });

    expect(process.env.LABEL).toBeUndefined();
    expect(process.env.TABLE_NAME).toBe(local.resourceName('Counters'));
  });
});

describe('harness failures are fatal', () => {
  it('rejects a task whose function is not in the stack, even under a Catch of States.ALL', async () => {
    await expect(local.stateMachine('CatchAll').run({})).rejects.toThrow(
      new HarnessError(
        'no local function for arn:aws:lambda:us-east-1:000000000000:function:not-in-this-stack',
      ),
    );
  });

  it('rejects a function whose Lambda runtime is another Node.js major than this process', async () => {
    const edited = await withEditedTemplate((resources) => {
      for (const r of Object.values(resources)) {
        if (r.Type === 'AWS::Lambda::Function')
          (r.Properties as Record<string, unknown>).Runtime = 'nodejs18.x';
      }
    });
    const run = edited
      .stateMachine('Features')
      .run({ key: 'node', failTimes: 0, items: [] }, { serviceIntegrations });
    await expect(run).rejects.toThrow(HarnessError);
    await expect(run).rejects.toThrow(/runs on Node\.js 18 in Lambda/);
  });

  it('refuses to start when a function bundle is missing', async () => {
    const edited = withEditedTemplate((resources) => {
      const fn = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function');
      (fn?.Metadata as Record<string, unknown>)['aws:asset:path'] = 'asset.missing';
    });
    await expect(edited).rejects.toThrow(/no bundle index\.\{mjs,js,cjs\} under asset\.missing/);
  });
});

describe('the guard', () => {
  it('refuses a SageMaker task without a named local implementation', async () => {
    await expect(local.stateMachine('Features').run({ key: 'x', failTimes: 0, items: [] })).rejects.toThrow(
      /Train: arn:aws:states:::sagemaker:createTrainingJob\.sync has no local implementation/,
    );
  });

  it.each([
    ['Jsonata', /Shape: JSONata \(QueryLanguage\) is not evaluated/],
    ['Assigning', /Remember: Assign \(variables\) is not evaluated/],
  ])('refuses the %s state machine, naming the state and the feature', async (machine, message) => {
    const run = local.stateMachine(machine).run({ id: 'a', a: 1 });
    await expect(run).rejects.toThrow(UnsupportedDefinitionError);
    await expect(run).rejects.toThrow(message);
  });
});
