import { createHash } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { assertRunsFaithfully, taskStates, UnsupportedDefinitionError } from '../../local/asl-guard.js';
import { withAwsTaskTimeouts } from '../../local/state-machine-runner.js';

const LAMBDA = 'arn:aws:states:::lambda:invoke';
const none = new Set<string>();

function definition(states: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { StartAt: Object.keys(states)[0], States: states, ...extra };
}

function problem(def: Record<string, unknown>, local = none): string {
  try {
    assertRunsFaithfully(def, local);
  } catch (error) {
    expect(error).toBeInstanceOf(UnsupportedDefinitionError);
    return (error as Error).message;
  }
  throw new Error('expected the guard to refuse the definition');
}

describe('assertRunsFaithfully', () => {
  it('accepts Lambda tasks, Choice, Map and Parallel in JSONPath', () => {
    expect(() =>
      assertRunsFaithfully(
        definition({
          A: { Type: 'Task', Resource: LAMBDA, Parameters: { 'Payload.$': '$' }, Next: 'B' },
          B: {
            Type: 'Map',
            ItemProcessor: { StartAt: 'C', States: { C: { Type: 'Task', Resource: LAMBDA, End: true } } },
            End: true,
          },
        }),
        none,
      ),
    ).not.toThrow();
  });

  it('refuses JSONata at the top level', () => {
    expect(problem(definition({ A: { Type: 'Pass', End: true } }, { QueryLanguage: 'JSONata' }))).toContain(
      'JSONata',
    );
  });

  it.each([
    ['Assign', { Assign: { x: 1 } }, 'Assign'],
    ['Arguments', { Arguments: { a: 1 } }, 'Arguments'],
    ['Output', { Output: '{% $states.input %}' }, 'JSONata Output'],
    ['HeartbeatSeconds', { HeartbeatSeconds: 10 }, 'HeartbeatSeconds'],
    ['Credentials', { Credentials: { RoleArn: 'x' } }, 'Credentials'],
  ])('refuses %s on a state, naming the state', (_field, extra, message) => {
    const text = problem(definition({ Step: { Type: 'Task', Resource: LAMBDA, End: true, ...extra } }));
    expect(text).toContain('Step:');
    expect(text).toContain(message);
  });

  it('refuses a JSONata expression hidden in a nested Map state', () => {
    const text = problem(
      definition({
        M: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'Inner',
            States: { Inner: { Type: 'Pass', Parameters: { x: '{% 1 + 1 %}' }, End: true } },
          },
          End: true,
        },
      }),
    );
    expect(text).toContain('M > items > Inner');
  });

  it('refuses a Distributed Map', () => {
    const text = problem(
      definition({
        M: {
          Type: 'Map',
          ItemReader: { Resource: 'arn:aws:states:::s3:getObject' },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED' },
            StartAt: 'I',
            States: { I: { Type: 'Pass', End: true } },
          },
          End: true,
        },
      }),
    );
    expect(text).toContain('ItemReader');
    expect(text).toContain('Distributed Map is not run');
  });

  it('refuses callback tasks', () => {
    expect(
      problem(definition({ T: { Type: 'Task', Resource: `${LAMBDA}.waitForTaskToken`, End: true } })),
    ).toContain('waitForTaskToken');
  });

  it('refuses a service integration without a local implementation, and accepts it with one', () => {
    const def = definition({
      Train: { Type: 'Task', Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync', End: true },
    });
    expect(problem(def)).toContain('pass one for state "Train"');
    expect(() => assertRunsFaithfully(def, new Set(['Train']))).not.toThrow();
  });

  it('lists every task, nested ones included', () => {
    const def = definition({
      P: {
        Type: 'Parallel',
        Branches: [{ StartAt: 'X', States: { X: { Type: 'Task', Resource: LAMBDA, End: true } } }],
        End: true,
      },
    });
    expect(taskStates(def)).toEqual([{ name: 'X', resource: LAMBDA }]);
  });

  it('refuses Assign in a Catch and a JSONata Condition in a Choice rule', () => {
    const text = problem(
      definition({
        T: {
          Type: 'Task',
          Resource: LAMBDA,
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'C', Assign: { failed: true } }],
          Next: 'C',
        },
        C: { Type: 'Choice', Choices: [{ Condition: '{% true %}', Next: 'D' }], Default: 'D' },
        D: { Type: 'Succeed' },
      }),
    );
    expect(text).toContain('T > Catch[0]: Assign (variables) is not evaluated');
    expect(text).toContain('C > Choices[0]: JSONata Condition is not evaluated');
  });

  it('accepts a state that spells out QueryLanguage JSONPath, and refuses one that says JSONata', () => {
    expect(() =>
      assertRunsFaithfully(definition({ A: { Type: 'Pass', QueryLanguage: 'JSONPath', End: true } }), none),
    ).not.toThrow();
    expect(problem(definition({ A: { Type: 'Pass', QueryLanguage: 'JSONata', End: true } }))).toContain(
      'A: JSONata (QueryLanguage) is not evaluated',
    );
  });

  it('refuses two different tasks with one name (overrides are keyed by state name)', () => {
    const text = problem(
      definition({
        P: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'X', States: { X: { Type: 'Task', Resource: LAMBDA, End: true } } },
            {
              StartAt: 'X',
              States: { X: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', End: true } },
            },
          ],
          End: true,
        },
      }),
      new Set(['X']),
    );
    expect(text).toContain('P > branch 1 > X: another Task has the same name');
  });

  it('refuses States.Hash, which the interpreter gets wrong for longer strings', async () => {
    const hashing: StateMachineDefinition = {
      StartAt: 'H',
      States: {
        H: { Type: 'Pass', Parameters: { 'digest.$': "States.Hash($.text, 'SHA-256')" }, End: true },
      },
    };
    expect(problem({ ...hashing })).toContain('H: States.Hash gives wrong digests locally');
    // Why: the interpreter's own SHA-256 disagrees with node:crypto. When a release fixes it, this
    // fails, and the guard can let States.Hash through.
    const text = 'x'.repeat(200);
    const run = new StateMachine(hashing).run({ text });
    const { digest } = (await run.result) as { digest: string };
    expect(digest).not.toBe(createHash('sha256').update(text).digest('hex'));
  });
});

describe('withAwsTaskTimeouts', () => {
  it('gives Tasks without a timeout the longest a timer allows instead of the interpreter 60 s, in a copy', () => {
    const original = definition({
      A: { Type: 'Task', Resource: LAMBDA, Next: 'B' },
      B: { Type: 'Task', Resource: LAMBDA, TimeoutSeconds: 5, End: true },
    });
    const patched = withAwsTaskTimeouts(original) as { States: Record<string, { TimeoutSeconds?: number }> };
    expect(patched.States.A?.TimeoutSeconds).toBe(2_147_483);
    expect(patched.States.B?.TimeoutSeconds).toBe(5);
    expect((original.States.A as { TimeoutSeconds?: number }).TimeoutSeconds).toBeUndefined();
  });
});
