import { describe, expect, it } from 'vitest';
import { type ResolveContext, resolveValue } from '../../local/cfn.js';

const ctx: ResolveContext = {
  region: 'eu-west-1',
  accountId: '123456789012',
  partition: 'aws',
  stackName: 'S',
  resources: {
    Fn: { ref: 'S-Fn', attributes: { Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:S-Fn' } },
    Table: { ref: 'S-Table', attributes: { Arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/S-Table' } },
  },
};

describe('resolveValue', () => {
  it('resolves Ref, GetAtt and pseudo parameters inside Fn::Join', () => {
    expect(
      resolveValue(
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':', { 'Fn::GetAtt': ['Fn', 'Arn'] }, '/', { Ref: 'Table' }],
          ],
        },
        ctx,
      ),
    ).toBe('arn:aws:arn:aws:lambda:eu-west-1:123456789012:function:S-Fn/S-Table');
  });

  it('resolves both forms of Fn::Sub', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${} syntax
    const plain = '${AWS::Region}-${Table}-${Fn.Arn}';
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${} syntax
    const withVariables = '${x}/${Table}';
    expect(resolveValue({ 'Fn::Sub': plain }, ctx)).toBe(
      'eu-west-1-S-Table-arn:aws:lambda:eu-west-1:123456789012:function:S-Fn',
    );
    expect(resolveValue({ 'Fn::Sub': [withVariables, { x: { Ref: 'AWS::AccountId' } }] }, ctx)).toBe(
      '123456789012/S-Table',
    );
  });

  it('resolves Fn::Select over Fn::Split', () => {
    expect(resolveValue({ 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] }, ctx)).toBe('b');
  });

  it('leaves plain structures alone and resolves nested values', () => {
    expect(resolveValue({ a: [1, { Ref: 'Fn' }], b: 'x' }, ctx)).toEqual({ a: [1, 'S-Fn'], b: 'x' });
  });

  it('names the place of an unknown reference or intrinsic', () => {
    expect(() => resolveValue({ x: { Ref: 'Missing' } }, ctx, 'MyResource')).toThrow(
      'MyResource.x: cannot resolve Ref Missing',
    );
    expect(() => resolveValue({ 'Fn::ImportValue': 'e' }, ctx, 'R')).toThrow(
      'R: intrinsic Fn::ImportValue is not supported locally',
    );
  });
});
