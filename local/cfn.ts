/**
 * Resolves CloudFormation intrinsic functions in a synthesized template against the physical
 * names and attributes the local harness assigned (see provision.ts). Supports what CDK emits for
 * the resources we run: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and the pseudo
 * parameters. Anything else fails loudly, naming where it was found.
 */

export interface ResourceState {
  /** What `Ref` returns. */
  readonly ref: string;
  /** What `Fn::GetAtt` returns, by attribute name. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResolveContext {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly stackName: string;
  readonly resources: Readonly<Record<string, ResourceState>>;
}

function pseudo(name: string, ctx: ResolveContext): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Partition':
      return ctx.partition;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::StackId':
      return `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/local`;
    case 'AWS::NoValue':
      return undefined;
    default:
      return undefined;
  }
}

function ref(name: string, ctx: ResolveContext, where: string): string {
  const value = pseudo(name, ctx) ?? ctx.resources[name]?.ref;
  if (value === undefined) throw new Error(`${where}: cannot resolve Ref ${name}`);
  return value;
}

function getAtt(target: unknown, ctx: ResolveContext, where: string): string {
  const [logicalId, attribute] = Array.isArray(target) ? target : String(target).split('.');
  const state = ctx.resources[String(logicalId)];
  const value = state?.attributes[String(attribute)];
  if (value === undefined) throw new Error(`${where}: cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
  return value;
}

function sub(args: unknown, ctx: ResolveContext, where: string): string {
  const [template, variables] = Array.isArray(args) ? args : [args, {}];
  const vars = resolveValue(variables ?? {}, ctx, where) as Record<string, unknown>;
  return String(template).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
    if (name in vars) return String(vars[name]);
    if (name.includes('.')) return getAtt(name, ctx, where);
    return ref(name, ctx, where);
  });
}

/** Resolves every intrinsic function in `value`. `where` names the place for error messages. */
export function resolveValue(value: unknown, ctx: ResolveContext, where = 'template'): unknown {
  if (Array.isArray(value)) return value.map((v, i) => resolveValue(v, ctx, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined) {
    const [key, arg] = first;
    switch (key) {
      case 'Ref':
        return ref(String(arg), ctx, where);
      case 'Fn::GetAtt':
        return getAtt(arg, ctx, where);
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (resolveValue(parts, ctx, where) as unknown[]).join(separator);
      }
      case 'Fn::Sub':
        return sub(arg, ctx, where);
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        return (resolveValue(list, ctx, where) as unknown[])[Number(resolveValue(index, ctx, where))];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return String(resolveValue(source, ctx, where)).split(separator);
      }
      default:
        if (key.startsWith('Fn::')) throw new Error(`${where}: intrinsic ${key} is not supported locally`);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveValue(v, ctx, `${where}.${k}`)]));
}
