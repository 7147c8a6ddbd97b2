/**
 * Verifiable request ids. The `requestId` a successful predict answers is issued here, signed with
 * the stack's request-signing key (HMAC-SHA256), so a feedback can be checked to follow a
 * prediction this model's API really made: a made-up, altered or other model's id is refused (404
 * UnknownRequest, nothing captured or counted), and so is an `instance` past the request's batch.
 * Stateless: nothing is written per prediction (a ledger would be one DynamoDB write per predict,
 * about +30 % of the serving cost); the check costs two HMACs per feedback.
 *
 * Format (opaque to clients; the change rule of contract.ts holds for the field, not its content):
 *
 *   <id>.<issued>.<instances>.<mac>
 *
 * `id`: the Lambda request id (logs correlate on it); `issued`: epoch milliseconds, base 36;
 * `instances`: the batch size, base 36; `mac`: the first 16 bytes of
 * HMAC-SHA256(key, `mlops-request/1\n<model>\n<id>\n<issued>\n<instances>`), base64url.
 *
 * Keys: the secret is JSON `{ "current": "…", "previous"?: "…", "next"?: "…" }` (each at least 32
 * characters). Ids are signed with `current` and verified against all three. Every instance reads
 * the secret again every {@link KEY_REFRESH_MS}, so a rotation takes two puts, that far apart:
 * `{ current: A, next: B }` (every instance learns to verify B), then `{ current: B, previous: A }`
 * (instances sign with B; ids A signed still verify). No feedback is refused on the way.
 *
 * SDK-free: the handler reads the secret (lambdas/predict/handler.ts) and hands the text to
 * {@link holdRequestIds}.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { ConfigurationError, DependencyError } from '../shared/errors.js';

/** What a verified request id says about the prediction it was issued for. */
export interface IssuedRequest {
  /** The Lambda request id of the predict. */
  readonly id: string;
  /** When the prediction was made (epoch ms: the request's time, as captured). */
  readonly issuedMs: number;
  /** How many instances the request had (a feedback's `instance` is below it). */
  readonly instances: number;
}

/** Issues and verifies request ids for one model. */
export interface RequestIds {
  /** The request id a predict of `instances` instances answers. Throws DependencyError without a key. */
  issue(id: string, issuedMs: number, instances: number): string;
  /** What `requestId` was issued for, or undefined when this model's API did not issue it. */
  verify(requestId: string): IssuedRequest | undefined;
}

/** The signing keys: `current` signs; every key verifies. */
export interface SigningKeys {
  readonly current: Buffer;
  /** The key before `current` (ids it signed still verify). */
  readonly previous?: Buffer;
  /** The key about to become `current` (ids it signs verify already: rotation's first step). */
  readonly next?: Buffer;
}

/** Shortest key (characters) the secret may hold. */
export const MIN_SIGNING_KEY_LENGTH = 32;
/** Longest request id verified (longer is not ours; the parse bounds the work). */
export const MAX_REQUEST_ID_LENGTH = 200;
const DOMAIN = 'mlops-request/1';
const MAC_BYTES = 16;
/** A Lambda request id (a UUID) or one a harness gives: no `.`, bounded. */
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const BASE36 = /^[0-9a-z]{1,11}$/;
const MAC_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The keys in the secret's text; throws ConfigurationError naming the field and the rule. */
export function parseSigningKeys(secret: string): SigningKeys {
  let value: unknown;
  try {
    value = JSON.parse(secret);
  } catch {
    throw new ConfigurationError('the request-signing secret must be a JSON object { "current": "…" }');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigurationError('the request-signing secret must be a JSON object { "current": "…" }');
  const record = value as Record<string, unknown>;
  const key = (field: keyof SigningKeys): Buffer | undefined => {
    const text = record[field];
    if (text === undefined && field !== 'current') return undefined;
    if (typeof text !== 'string' || text.length < MIN_SIGNING_KEY_LENGTH)
      throw new ConfigurationError(
        `the request-signing secret's ${field} must be a string of at least ${MIN_SIGNING_KEY_LENGTH} characters`,
      );
    return Buffer.from(text, 'utf8');
  };
  const current = key('current') as Buffer;
  const previous = key('previous');
  const next = key('next');
  return {
    current,
    ...(previous === undefined ? {} : { previous }),
    ...(next === undefined ? {} : { next }),
  };
}

function macOf(key: Buffer, model: string, id: string, issued: string, instances: string): Buffer {
  return createHmac('sha256', key)
    .update(`${DOMAIN}\n${model}\n${id}\n${issued}\n${instances}`)
    .digest()
    .subarray(0, MAC_BYTES);
}

/** Request ids of `model` signed with `keys`. */
export function requestIds(model: string, keys: SigningKeys): RequestIds {
  const verifying = [keys.current, keys.previous, keys.next].filter((key) => key !== undefined);
  return {
    issue(id, issuedMs, instances) {
      if (!Number.isFinite(issuedMs) || issuedMs < 0 || issuedMs > Number.MAX_SAFE_INTEGER)
        throw new RangeError(`issuedMs must be a non-negative epoch time in ms (got ${issuedMs})`);
      if (!Number.isSafeInteger(instances) || instances < 1)
        throw new RangeError(`instances must be a positive integer (got ${instances})`);
      const safeId = ID_PATTERN.test(id) ? id : randomUUID();
      const issued = Math.floor(issuedMs).toString(36);
      const n = instances.toString(36);
      const mac = macOf(keys.current, model, safeId, issued, n).toString('base64url');
      return `${safeId}.${issued}.${n}.${mac}`;
    },
    verify(requestId) {
      if (typeof requestId !== 'string' || requestId.length > MAX_REQUEST_ID_LENGTH) return undefined;
      const parts = requestId.split('.');
      if (parts.length !== 4) return undefined;
      const [id, issued, n, mac] = parts as [string, string, string, string];
      if (!ID_PATTERN.test(id) || !BASE36.test(issued) || !BASE36.test(n) || !MAC_PATTERN.test(mac))
        return undefined;
      const given = Buffer.from(mac, 'base64url');
      // 22 characters carry 132 bits: the last one's spare bits must be zero, or one MAC would have
      // 16 spellings (and a feedback's default idempotency key, built from the id, 16 values).
      if (given.length !== MAC_BYTES || given.toString('base64url') !== mac) return undefined;
      // The canonical spelling only: a base-36 number with a leading zero is another id.
      const issuedMs = Number.parseInt(issued, 36);
      const instances = Number.parseInt(n, 36);
      if (issuedMs.toString(36) !== issued || instances.toString(36) !== n || instances < 1) return undefined;
      const known = verifying.some((key) => timingSafeEqual(macOf(key, model, id, issued, n), given));
      return known ? { id, issuedMs, instances } : undefined;
    },
  };
}

/** How often a failed key read is tried again (on a request, in the background). */
export const KEY_RELOAD_INTERVAL_MS = 10_000;
/** How often an instance reads the keys again once it has them (on a request, in the background). */
export const KEY_REFRESH_MS = 5 * 60_000;

/**
 * Reads the keys (await it at init) and keeps them, or keeps why they could not be read: until a
 * read succeeds, `issue` and `verify` throw DependencyError (a predict or feedback answers 502:
 * retry) and a read is tried again in the background at most every `reloadIntervalMs`. A secret
 * whose content breaks the rules is a ConfigurationError, final for the instance. Once read, the
 * keys are read again in the background every `refreshMs` (rotation); a failed refresh keeps the
 * keys held (and tells `failed`).
 */
export async function holdRequestIds(
  model: string,
  read: () => Promise<string>,
  hooks: {
    readonly failed?: (error: unknown) => void;
    readonly reloadIntervalMs?: number;
    readonly refreshMs?: number;
    readonly clock?: () => number;
  } = {},
): Promise<RequestIds> {
  const clock = hooks.clock ?? Date.now;
  const interval = hooks.reloadIntervalMs ?? KEY_RELOAD_INTERVAL_MS;
  const refreshMs = hooks.refreshMs ?? KEY_REFRESH_MS;
  let ids: RequestIds | undefined;
  let error: unknown;
  let lastAttempt = 0;
  let inFlight: Promise<void> | undefined;
  const attempt = async (): Promise<void> => {
    lastAttempt = clock();
    try {
      ids = requestIds(model, parseSigningKeys(await read()));
      error = undefined;
    } catch (e) {
      error = e;
      hooks.failed?.(e);
    }
  };
  await attempt();
  const readAgain = () => {
    inFlight = attempt().finally(() => {
      inFlight = undefined;
    });
  };
  const held = (): RequestIds => {
    if (ids !== undefined) {
      if (inFlight === undefined && clock() - lastAttempt >= refreshMs) readAgain();
      return ids;
    }
    if (error instanceof ConfigurationError) throw error;
    if (inFlight === undefined && clock() - lastAttempt >= interval) readAgain();
    throw new DependencyError(
      'request-signing-key',
      `the request-signing key could not be read (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  };
  return {
    issue: (id, issuedMs, instances) => held().issue(id, issuedMs, instances),
    verify: (requestId) => held().verify(requestId),
  };
}
