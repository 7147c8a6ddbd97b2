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

  it('keeps an escaped placeholder literal in Fn::Sub', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${} syntax
    expect(resolveValue({ 'Fn::Sub': '${!Literal}-${Table}' }, ctx)).toBe('${Literal}-S-Table');
  });

  it('drops a property or list element that is Ref AWS::NoValue', () => {
    expect(resolveValue({ a: { Ref: 'AWS::NoValue' }, b: [1, { Ref: 'AWS::NoValue' }, 2] }, ctx)).toEqual({
      b: [1, 2],
    });
  });

  it('resolves the string form of Fn::GetAtt with a dotted attribute name', () => {
    const withEndpoint: ResolveContext = {
      ...ctx,
      resources: { Db: { ref: 'db', attributes: { 'Endpoint.Address': 'db.local' } } },
    };
    expect(resolveValue({ 'Fn::GetAtt': 'Db.Endpoint.Address' }, withEndpoint)).toBe('db.local');
  });

  it('names the attributes it knows when an attribute is unknown', () => {
    expect(() => resolveValue({ 'Fn::GetAtt': ['Table', 'StreamArn'] }, ctx, 'Mapping')).toThrow(
      'Mapping: cannot resolve Fn::GetAtt Table.StreamArn (attributes known locally: Arn)',
    );
  });

  it('refuses an Fn::Select index outside the list', () => {
    expect(() => resolveValue({ 'Fn::Select': [3, ['a', 'b']] }, ctx, 'R')).toThrow(
      'R: Fn::Select index 3 is outside a list of 2',
    );
  });

  it('gives the URL suffix of the partition', () => {
    expect(resolveValue({ Ref: 'AWS::URLSuffix' }, ctx)).toBe('amazonaws.com');
    expect(resolveValue({ Ref: 'AWS::URLSuffix' }, { ...ctx, partition: 'aws-cn' })).toBe('amazonaws.com.cn');
  });
});
