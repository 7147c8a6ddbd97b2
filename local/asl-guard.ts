/**
 * Refuses state machine definitions that aws-local-stepfunctions would accept but not run the way
 * AWS does, so a local test can never pass on a feature that was silently ignored.
 */

type Json = Record<string, unknown>;

export interface TaskState {
  readonly name: string;
  readonly resource: string;
}

/** Fields the interpreter accepts without evaluating them (or cannot run locally). */
const UNFAITHFUL_FIELDS: Record<string, string> = {
  QueryLanguage: 'JSONata (QueryLanguage) is not evaluated',
  Arguments: 'JSONata Arguments are not evaluated',
  Output: 'JSONata Output is not evaluated',
  Assign: 'Assign (variables) is not evaluated',
  Credentials: 'Credentials (cross-account tasks) are not evaluated',
  HeartbeatSeconds: 'HeartbeatSeconds is not enforced',
  HeartbeatSecondsPath: 'HeartbeatSecondsPath is not enforced',
  ItemReader: 'Distributed Map ItemReader is not run',
  ItemBatcher: 'Distributed Map ItemBatcher is not run',
  ResultWriter: 'Distributed Map ResultWriter is not run',
  ToleratedFailureCount: 'Distributed Map ToleratedFailureCount is not run',
  ToleratedFailurePercentage: 'Distributed Map ToleratedFailurePercentage is not run',
  ToleratedFailureCountPath: 'Distributed Map ToleratedFailureCountPath is not run',
  ToleratedFailurePercentagePath: 'Distributed Map ToleratedFailurePercentagePath is not run',
  Label: 'Distributed Map Label is not run',
  Items: 'JSONata Items are not evaluated',
  Condition: 'JSONata Condition is not evaluated',
};

/** Fields checked inside Catch entries and Choice rules (JSONata and variables live there too). */
const NESTED_FIELDS = ['Assign', 'Output', 'Condition', 'Arguments'] as const;

/** A definition uses a feature the local interpreter does not run faithfully. */
export class UnsupportedDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedDefinitionError';
  }
}

/** Visits every state, nested Parallel branches and Map item processors included. */
export function forEachState(
  definition: Json,
  visit: (name: string, state: Json, where: string) => void,
): void {
  visitStates((definition.States as Json) ?? {}, '', visit);
}

function visitStates(
  states: Json,
  path: string,
  visit: (name: string, state: Json, where: string) => void,
): void {
  for (const [name, raw] of Object.entries(states)) {
    const state = raw as Json;
    const where = `${path}${name}`;
    visit(name, state, where);
    for (const [i, branch] of ((state.Branches as Json[] | undefined) ?? []).entries()) {
      visitStates((branch.States as Json) ?? {}, `${where} > branch ${i} > `, visit);
    }
    const processor = (state.ItemProcessor ?? state.Iterator) as Json | undefined;
    if (processor) visitStates((processor.States as Json) ?? {}, `${where} > items > `, visit);
  }
}

function containsJsonata(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{%');
  if (Array.isArray(value)) return value.some(containsJsonata);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsJsonata);
  return false;
}

function containsCall(value: unknown, call: string): boolean {
  if (typeof value === 'string') return value.includes(call);
  if (Array.isArray(value)) return value.some((v) => containsCall(v, call));
  if (value !== null && typeof value === 'object')
    return Object.values(value).some((v) => containsCall(v, call));
  return false;
}

/** Every Task state (nested ones included) with its resource. */
export function taskStates(definition: Json): TaskState[] {
  const tasks: TaskState[] = [];
  forEachState(definition, (name, state) => {
    if (state.Type === 'Task') tasks.push({ name, resource: String(state.Resource) });
  });
  return tasks;
}

/** Resources the runner executes itself: Lambda, through the optimized integration or directly. */
export function isLambdaResource(resource: string): boolean {
  return (
    resource === 'arn:aws:states:::lambda:invoke' || /^arn:[^:]+:lambda:[^:]+:[^:]+:function:/.test(resource)
  );
}

/**
 * Throws {@link UnsupportedDefinitionError} naming the state and the feature when the definition
 * cannot run faithfully: unfaithful fields, JSONata, callback tasks, duplicate task names (overrides
 * are keyed by name), or a non-Lambda task without a local implementation.
 */
export function assertRunsFaithfully(definition: Json, localImplementations: ReadonlySet<string>): void {
  const problems: string[] = [];
  if (definition.QueryLanguage !== undefined && definition.QueryLanguage !== 'JSONPath') {
    problems.push(`(top level): ${UNFAITHFUL_FIELDS.QueryLanguage}`);
  }
  const seenTasks = new Map<string, string>();
  forEachState(definition, (name, state, where) => {
    for (const field of Object.keys(state)) {
      if (field === 'QueryLanguage' && state.QueryLanguage === 'JSONPath') continue;
      const why = UNFAITHFUL_FIELDS[field];
      if (why) problems.push(`${where}: ${why}`);
    }
    for (const [list, label] of [
      [state.Catch, 'Catch'],
      [state.Choices, 'Choices'],
    ] as const) {
      for (const [i, entry] of ((list as Json[] | undefined) ?? []).entries()) {
        for (const field of NESTED_FIELDS) {
          if (entry[field] !== undefined)
            problems.push(`${where} > ${label}[${i}]: ${UNFAITHFUL_FIELDS[field]}`);
        }
      }
    }
    if ((state.ItemProcessor as Json | undefined)?.ProcessorConfig) {
      const mode = ((state.ItemProcessor as Json).ProcessorConfig as Json).Mode;
      if (mode === 'DISTRIBUTED') problems.push(`${where}: Distributed Map is not run`);
    }
    if (containsJsonata(state)) problems.push(`${where}: JSONata expressions ({% %}) are not evaluated`);
    if (containsCall(state, 'States.Hash('))
      problems.push(
        `${where}: States.Hash gives wrong digests locally (aws-local-stepfunctions 3.0.0, for strings over ~50 characters); hash in a Lambda task`,
      );
    if (state.Type !== 'Task') return;
    const resource = String(state.Resource);
    if (resource.endsWith('.waitForTaskToken'))
      problems.push(`${where}: callback tasks (.waitForTaskToken) are not run`);
    const previous = seenTasks.get(name);
    if (previous !== undefined && previous !== resource)
      problems.push(`${where}: another Task has the same name`);
    seenTasks.set(name, resource);
    if (!isLambdaResource(resource) && !localImplementations.has(name)) {
      problems.push(`${where}: ${resource} has no local implementation (pass one for state "${name}")`);
    }
  });
  if (problems.length > 0) {
    throw new UnsupportedDefinitionError(
      `definition cannot run faithfully here:\n  ${problems.join('\n  ')}`,
    );
  }
}
