import { describe, expect, it } from 'vitest';
import { assertRunsFaithfully, taskStates, UnsupportedDefinitionError } from '../../local/asl-guard.js';

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
});
