import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

let resources: Resources;
let template: { Resources: Resources; Outputs?: Record<string, unknown> };

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-registry-')),
    context: cdkJsonContext(),
  });
  const { stack } = buildApp(app);
  // Synthesis runs cdk-nag: an acknowledgement without its finding, or a finding without one, fails here.
  template = app.synth().getStackByName(stack.stackName).template as typeof template;
  resources = template.Resources;
});

/** Data-plane statements (DynamoDB, S3) of the role whose default policy starts with `prefix`. */
function dataStatements(prefix: string): { actions: string[]; statements: Statement[] } {
  const policies = Object.entries(resources).filter(
    ([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::IAM::Policy',
  );
  expect(policies, prefix).toHaveLength(1);
  const document = policies[0]?.[1].Properties?.PolicyDocument as { Statement: Statement[] };
  const statements = document.Statement.filter((s) =>
    [s.Action].flat().some((a) => a.startsWith('dynamodb:') || a.startsWith('s3:')),
  );
  return { actions: statements.flatMap((s) => [s.Action].flat()).sort(), statements };
}

describe('model registry permissions', () => {
  it('gives the register function only the item reads and writes a registration makes', () => {
    const { actions, statements } = dataStatements('ModelRegistryRegisterModelVersionRoleDefaultPolicy');
    // Get (head, token, version), TransactWriteItems of an Update (head) and Puts (version, token),
    // and HeadObject/GetObject on the artifact (both authorized by s3:GetObject).
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 's3:GetObject']);
    const s3 = statements.find((s) => [s.Action].flat().includes('s3:GetObject'));
    expect(JSON.stringify(s3?.Resource)).toMatch(/\/models\/\*"/);
  });

  it('gives the get function only GetItem on the registry table', () => {
    const { actions } = dataStatements('ModelRegistryGetModelVersionRoleDefaultPolicy');
    expect(actions).toEqual(['dynamodb:GetItem']);
  });

  it('gives the transition function only the item reads and writes a transition makes', () => {
    const { actions } = dataStatements('ModelRegistryTransitionModelStageRoleDefaultPolicy');
    // Get (version, head); TransactWriteItems of Updates (version, head, archived predecessor), Puts
    // (history, new stage index item) and a Delete (old stage index item).
    expect(actions).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('gives the set-alias function only the item reads and writes an alias move makes', () => {
    const { actions } = dataStatements('ModelRegistrySetModelAliasRoleDefaultPolicy');
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });

  it('scopes every registry function to the registry table alone', () => {
    for (const prefix of ['TransitionModelStage', 'SetModelAlias', 'GetModelVersion']) {
      const { statements } = dataStatements(`ModelRegistry${prefix}RoleDefaultPolicy`);
      expect(JSON.stringify(statements.map((s) => s.Resource)), prefix).toMatch(/ModelRegistryTable/);
      expect(JSON.stringify(statements.map((s) => s.Resource)), prefix).not.toMatch(/FeatureStore|Artifacts/);
    }
  });
});

describe('registry workflow wiring', () => {
  it('passes the execution ARN to the register task, merged over the request', () => {
    const machine = Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine?.Properties?.DefinitionString);
    expect(definition).toContain('\\"invocation\\":{\\"execution.$\\":\\"$$.Execution.Id\\"}');
    expect(definition).toContain(
      'States.JsonMerge(States.JsonMerge($.defaults, $.request, false), $.invocation, false)',
    );
  });
});

describe('stack outputs', () => {
  it('names the registry table and artifact bucket for the CLI', () => {
    const outputs = Object.keys(template.Outputs ?? {});
    expect(outputs).toEqual(
      expect.arrayContaining([STACK_OUTPUTS.registryTable, STACK_OUTPUTS.artifactBucket]),
    );
  });
});
