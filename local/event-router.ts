/**
 * Delivers an event to the EventBridge rules of a bus on the emulator, as EventBridge would: lists
 * the bus's enabled rules, matches each pattern with the emulator's TestEventPattern (moto's
 * matcher, local/moto_server.py), shapes the input for each target (Input, InputPath or
 * InputTransformer with InputPathsMap + InputTemplate, as the EventBridge User Guide's "Transforming
 * target input" documents) and hands it to a delivery callback chosen by the target ARN's service.
 * moto delivers nothing to Step Functions or Lambda targets itself; SQS targets default to the
 * emulator's SendMessage.
 */
import type { Target } from '@aws-sdk/client-eventbridge';
import {
  ListRulesCommand,
  ListTargetsByRuleCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { clients } from '../lambdas/shared/clients.js';

/** A delivery: the target's ARN and the input EventBridge would send it (a JSON text or plain text). */
export type Deliver = (arn: string, input: string) => Promise<void>;

/** Delivery callbacks by the target ARN's service (`states`, `lambda`, `sqs`, …). */
export type Deliveries = Readonly<Record<string, Deliver>>;

export interface Delivery {
  readonly rule: string;
  readonly target: string;
  readonly arn: string;
  readonly input: string;
}

export class EventRoutingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRoutingError';
  }
}

/** SendMessage to the emulator's queue named by the ARN's last part. */
export const sendToQueue: Deliver = async (arn, input) => {
  const sqs = clients.sqs();
  const QueueName = arn.split(':').at(-1);
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: input }));
};

/** The value at a JSONPath of the simple form EventBridge takes (`$`, `$.a.b`, `$.a[0].b`). */
export function valueAtPath(event: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new EventRoutingError(`an input path starts with $; got ${path}`);
  const steps = [...path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]|\['([^']+)'\]/g)].map(
    (m) => m[1] ?? m[3] ?? Number(m[2]),
  );
  let here: unknown = event;
  for (const step of steps) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}

/**
 * The input a target receives for `event`: Input as given; InputPath's value as JSON; an
 * InputTransformer's template with each `<name>` replaced ({@link fillTemplate}; reserved names `aws.events.rule-arn`,
 * `aws.events.rule-name`, `aws.events.event.ingestion-time`, `aws.events.event` and
 * `aws.events.event.json`); with none of them, the whole event.
 */
export function targetInput(
  target: Pick<Target, 'Input' | 'InputPath' | 'InputTransformer'>,
  event: Readonly<Record<string, unknown>>,
  rule: { readonly name: string; readonly arn: string },
): string {
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath !== undefined) return JSON.stringify(valueAtPath(event, target.InputPath) ?? null);
  const transformer = target.InputTransformer;
  if (transformer === undefined) return JSON.stringify(event);
  const values: Record<string, unknown> = {
    'aws.events.rule-arn': rule.arn,
    'aws.events.rule-name': rule.name,
    'aws.events.event.ingestion-time': event.time,
    'aws.events.event': event,
    'aws.events.event.json': event,
  };
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {}))
    values[name] = valueAtPath(event, path);
  return fillTemplate(transformer.InputTemplate ?? '', values);
}

/**
 * Replaces each known `<name>` in an input template: inside a JSON string literal by the value's
 * text, JSON-escaped (a string without its quotes); elsewhere by the value's JSON (a string with
 * its quotes; a path that is absent gives null). Unknown names stay as written.
 */
function fillTemplate(template: string, values: Readonly<Record<string, unknown>>): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c === '"' && template[i - 1] !== '\\') inString = !inString;
    const match = c === '<' ? /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i)) : null;
    if (match === null || !((match[1] as string) in values)) {
      out += c;
      continue;
    }
    const value = values[match[1] as string];
    const json = JSON.stringify(value ?? null);
    out += !inString
      ? json
      : typeof value === 'string'
        ? JSON.stringify(value).slice(1, -1)
        : JSON.stringify(json).slice(1, -1);
    i += match[0].length - 1;
  }
  return out;
}

/** The service part of an ARN (`arn:aws:<service>:…`). */
export const arnService = (arn: string): string => arn.split(':')[2] ?? '';

/**
 * Routes `event` to the matching rules of `eventBusName` (default `default`) and delivers each
 * target's input through `deliveries` (by ARN service; `sqs` defaults to {@link sendToQueue}).
 * A target of a service with no callback is an error: nothing is dropped silently.
 */
export async function routeEvent(
  event: Readonly<Record<string, unknown>>,
  options: { readonly eventBusName?: string; readonly deliveries?: Deliveries } = {},
): Promise<Delivery[]> {
  const eventbridge = clients.eventbridge();
  const EventBusName = options.eventBusName ?? 'default';
  const deliveries: Deliveries = { sqs: sendToQueue, ...options.deliveries };
  const rules = [];
  let NextToken: string | undefined;
  do {
    const page = await eventbridge.send(new ListRulesCommand({ EventBusName, NextToken }));
    rules.push(...(page.Rules ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  const delivered: Delivery[] = [];
  for (const rule of rules) {
    if (rule.State !== 'ENABLED' || rule.EventPattern === undefined || rule.Name === undefined) continue;
    const { Result } = await eventbridge.send(
      new TestEventPatternCommand({ EventPattern: rule.EventPattern, Event: JSON.stringify(event) }),
    );
    if (Result !== true) continue;
    const { Targets = [] } = await eventbridge.send(
      new ListTargetsByRuleCommand({ Rule: rule.Name, EventBusName }),
    );
    for (const target of Targets) {
      const arn = target.Arn ?? '';
      const deliver = deliveries[arnService(arn)];
      if (deliver === undefined)
        throw new EventRoutingError(
          `rule ${rule.Name} targets ${arn}: no delivery for service ${arnService(arn)}`,
        );
      const input = targetInput(target, event, { name: rule.Name, arn: rule.Arn ?? '' });
      await deliver(arn, input);
      delivered.push({ rule: rule.Name, target: target.Id ?? '', arn, input });
    }
  }
  return delivered;
}
