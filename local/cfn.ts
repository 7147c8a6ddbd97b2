/**
 * Resolves CloudFormation intrinsic functions in a synthesized template against the physical
 * names and attributes the local harness assigned (see provision.ts). Supports what CDK emits for
 * the resources we run: Ref, Fn::GetAtt, Fn::Join, Fn::Sub (both forms, `${!Literal}` escapes),
 * Fn::Select, Fn::Split and the pseudo parameters (`Ref: AWS::NoValue` drops the property, as
 * CloudFormation does). Anything else fails loudly, naming the resource and the place in it.
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

/** `Ref: AWS::NoValue`: the enclosing property (or list element) is removed. */
const NO_VALUE = Symbol('AWS::NoValue');

function pseudo(name: string, ctx: ResolveContext): string | typeof NO_VALUE | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Partition':
      return ctx.partition;
    case 'AWS::URLSuffix':
      return ctx.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::StackId':
      return `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/local`;
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      return undefined;
  }
}

function ref(name: string, ctx: ResolveContext, where: string): string | typeof NO_VALUE {
  const value = pseudo(name, ctx) ?? ctx.resources[name]?.ref;
  if (value === undefined) throw new Error(`${where}: cannot resolve Ref ${name} (no such resource)`);
  return value;
}

function getAtt(target: unknown, ctx: ResolveContext, where: string): string {
  let logicalId: string;
  let attribute: string;
  if (Array.isArray(target)) {
    [logicalId, attribute] = [String(target[0]), String(resolveValue(target[1], ctx, where))];
  } else {
    // String form `Id.Attr`; attributes may contain dots themselves (`Endpoint.Address`).
    const text = String(target);
    const dot = text.indexOf('.');
    [logicalId, attribute] = [text.slice(0, dot), text.slice(dot + 1)];
  }
  const state = ctx.resources[logicalId];
  if (state === undefined)
    throw new Error(`${where}: cannot resolve Fn::GetAtt ${logicalId}.${attribute} (no such resource)`);
  const value = state.attributes[attribute];
  if (value === undefined) {
    const known = Object.keys(state.attributes).join(', ') || 'none';
    throw new Error(
      `${where}: cannot resolve Fn::GetAtt ${logicalId}.${attribute} (attributes known locally: ${known})`,
    );
  }
  return value;
}

function sub(args: unknown, ctx: ResolveContext, where: string): string {
  const [template, variables] = Array.isArray(args) ? args : [args, {}];
  const vars = resolveValue(variables ?? {}, ctx, where) as Record<string, unknown>;
  return String(template).replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`; // `${!Literal}` stays literal
    if (Object.hasOwn(vars, name)) return String(vars[name]);
    if (name.includes('.')) return getAtt(name, ctx, where);
    const value = ref(name, ctx, where);
    if (value === NO_VALUE) throw new Error(`${where}: AWS::NoValue inside Fn::Sub`);
    return value;
  });
}

function list(value: unknown, intrinsic: string, where: string): unknown[] {
  if (!Array.isArray(value))
    throw new Error(`${where}: ${intrinsic} expects a list, got ${JSON.stringify(value)}`);
  return value;
}

function intrinsic(key: string, arg: unknown, ctx: ResolveContext, where: string): unknown {
  switch (key) {
    case 'Ref':
      return ref(String(arg), ctx, where);
    case 'Fn::GetAtt':
      return getAtt(arg, ctx, where);
    case 'Fn::Join': {
      const [separator, parts] = list(arg, key, where);
      return list(resolveValue(parts, ctx, where), key, where).join(String(separator));
    }
    case 'Fn::Sub':
      return sub(arg, ctx, where);
    case 'Fn::Select': {
      const [index, values] = list(arg, key, where);
      const items = list(resolveValue(values, ctx, where), key, where);
      const i = Number(resolveValue(index, ctx, where));
      if (!Number.isInteger(i) || i < 0 || i >= items.length)
        throw new Error(`${where}: Fn::Select index ${i} is outside a list of ${items.length}`);
      return items[i];
    }
    case 'Fn::Split': {
      const [separator, source] = list(arg, key, where);
      return String(resolveValue(source, ctx, where)).split(String(separator));
    }
    default:
      throw new Error(`${where}: intrinsic ${key} is not supported locally`);
  }
}

function resolveAny(value: unknown, ctx: ResolveContext, where: string): unknown {
  if (Array.isArray(value))
    return value.map((v, i) => resolveAny(v, ctx, `${where}[${i}]`)).filter((v) => v !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    return intrinsic(first[0], first[1], ctx, where);
  }
  return Object.fromEntries(
    entries
      .map(([k, v]) => [k, resolveAny(v, ctx, `${where}.${k}`)] as const)
      .filter(([, v]) => v !== NO_VALUE),
  );
}

/**
 * Resolves every intrinsic function in `value`. `where` names the place for error messages (use
 * the logical id of the resource the value belongs to).
 */
export function resolveValue(value: unknown, ctx: ResolveContext, where = 'template'): unknown {
  const resolved = resolveAny(value, ctx, where);
  return resolved === NO_VALUE ? undefined : resolved;
}
