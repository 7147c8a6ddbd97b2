/**
 * Verifiable request ids. The `requestId` a successful predict answers is issued here, signed with
 * the stack's request-signing key (HMAC-SHA256), so a feedback can be checked to follow a
 * prediction this model's API really made: a made-up, altered or other model's id is refused (404
 * UnknownRequest, nothing captured or counted), and so is an `instance` past the request's batch.
 * Under an A/B experiment the id also carries the experiment and the variant each instance was
 * served, so an outcome counts once per served instance, in the variant that was served.
 * Stateless: nothing is written per prediction (a ledger would be one DynamoDB write per predict,
 * about +30 % of the serving cost); the check costs an HMAC per key per feedback.
 *
 * Format (opaque to clients; contract.ts records the change of its content):
 *
 *   <id>.<issued>.<instances>.<mac>
 *   <id>.<issued>.<instances>.<experiment>.<variants>.<mac>     (served under an experiment)
 *
 * `id`: the Lambda request id (logs correlate on it); `issued`: epoch milliseconds, base 36;
 * `instances`: the batch size, base 36; `experiment`: {@link experimentDigest} of its id;
 * `variants`: each instance's variant in 2 bits (default, control, treatment), base64url; `mac`: the
 * first 16 bytes of HMAC-SHA256(key, `<domain>\n<model>\n<fields…>`), base64url, whose domain
 * differs between the two forms. Every field has one spelling (canonical base 36 and base64url).
 *
 * Keys: the secret is JSON `{ "current": "…", "previous"?: "…", "next"?: "…" }` (each at least 32
 * characters). Ids are signed with `current` and verified against all three. A request re-reads
 * keys older than {@link KEY_REFRESH_MS} before using them, so a rotation takes two puts, twice that
 * apart: `{ current: A, next: B }` (every instance learns to verify B), then
 * `{ current: B, previous: A }` (instances sign with B; ids A signed still verify). Ids never
 * expire: dropping a key refuses the feedback of every id it signed.
 *
 * SDK-free: the handler reads the secret (lambdas/predict/handler.ts) and hands the text to
 * {@link holdRequestIds}.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { ConfigurationError, DependencyError } from '../shared/errors.js';

/** How an instance of a request was served while an experiment ran. */
export type ServedVariant = 'control' | 'treatment' | 'default';
const VARIANT_CODES: readonly ServedVariant[] = ['default', 'control', 'treatment'];

/** The experiment a request was served under, and each instance's variant (signed with the id). */
export interface ServedAssignment {
  readonly experimentId: string;
  /** One per instance, in request order (`default`: the instance had no unit, outside it). */
  readonly variants: readonly ServedVariant[];
}

/** What a verified request id says about the prediction it was issued for. */
export interface IssuedRequest {
  /** The Lambda request id of the predict. */
  readonly id: string;
  /** When the prediction was made (epoch ms: the request's time, as captured). */
  readonly issuedMs: number;
  /** How many instances the request had (a feedback's `instance` is below it). */
  readonly instances: number;
  /** Served while an experiment ran: its digest ({@link experimentDigest}) and each instance's variant. */
  readonly experiment?: { readonly digest: string; readonly variants: readonly ServedVariant[] };
  /** The request's short reference ({@link requestRef}). */
  readonly ref: string;
}

/**
 * A request's short reference, `<id>.<mac>` (at most 87 characters whatever the batch): what the
 * capture records and an experiment's count key name it by. The mac makes it unique.
 */
export function requestRef(requestId: string): string {
  return `${requestId.slice(0, requestId.indexOf('.'))}.${requestId.slice(requestId.lastIndexOf('.') + 1)}`;
}

/** Issues and verifies request ids for one model. */
export interface RequestIds {
  /**
   * The request id a predict of `instances` instances answers (with the experiment it was served
   * under). Throws DependencyError without a key.
   */
  issue(id: string, issuedMs: number, instances: number, assignment?: ServedAssignment): string;
  /** What `requestId` was issued for, or undefined when this model's API did not issue it. */
  verify(requestId: string): IssuedRequest | undefined;
  /**
   * When the keys are due a re-read: a promise that resolves once they are fresh (or a bound has
   * passed); await it before issue or verify. Undefined (or absent): nothing to wait for.
   */
  fresh?(): Promise<void> | undefined;
  /**
   * After a verify miss: when the keys were read more than a few seconds ago, a promise that
   * resolves once they are read again (or a bound has passed), to verify once more; undefined:
   * nothing newer to read. A key rotated in moments ago must not make a real id unknown.
   */
  recheck?(): Promise<void> | undefined;
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
/** Most instances an id carries variants of (configuration bounds `serving.maxBatchInstances` below it). */
export const MAX_SIGNED_INSTANCES = 10_000;
/**
 * Longest request id verified (longer is not ours; the parse bounds the work): an id, a time, a
 * count, an experiment digest, {@link MAX_SIGNED_INSTANCES} variants at 2 bits, and the mac.
 */
export const MAX_REQUEST_ID_LENGTH =
  64 + 12 + 4 + 12 + Math.ceil((Math.ceil(MAX_SIGNED_INSTANCES / 4) * 4) / 3) + 22 + 5;
const DOMAIN = 'mlops-request/1';
const DOMAIN_EXPERIMENT = 'mlops-request/1+experiment';
const DIGEST_BYTES = 9;
const DIGEST_PATTERN = /^[A-Za-z0-9_-]{12}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
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

/** The digest of an experiment id that a request id carries (9 bytes of SHA-256, base64url). */
export function experimentDigest(experimentId: string): string {
  return createHash('sha256').update(experimentId).digest().subarray(0, DIGEST_BYTES).toString('base64url');
}

/** Each instance's variant, 2 bits each (4 a byte, low bits first), base64url. */
function packVariants(variants: readonly ServedVariant[]): string {
  const bytes = Buffer.alloc(Math.ceil(variants.length / 4));
  variants.forEach((variant, i) => {
    const code = VARIANT_CODES.indexOf(variant);
    if (code < 0)
      throw new RangeError(`variant ${JSON.stringify(variant)} is not one of ${VARIANT_CODES.join(', ')}`);
    bytes[i >> 2] = (bytes[i >> 2] as number) | (code << ((i & 3) * 2));
  });
  return bytes.toString('base64url');
}

/** The variants of `n` instances packed by packVariants, or undefined when the text is not that. */
function unpackVariants(text: string, n: number): ServedVariant[] | undefined {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== Math.ceil(n / 4) || bytes.toString('base64url') !== text) return undefined;
  const variants: ServedVariant[] = [];
  for (let i = 0; i < bytes.length * 4; i++) {
    const code = ((bytes[i >> 2] as number) >> ((i & 3) * 2)) & 3;
    // Past the last instance the bits are zero; a code 3 is no variant.
    if (i >= n ? code !== 0 : code === 3) return undefined;
    if (i < n) variants.push(VARIANT_CODES[code] as ServedVariant);
  }
  return variants;
}

function macOf(key: Buffer, model: string, fields: readonly string[]): Buffer {
  const domain = fields.length === 3 ? DOMAIN : DOMAIN_EXPERIMENT;
  return createHmac('sha256', key)
    .update(`${domain}\n${model}\n${fields.join('\n')}`)
    .digest()
    .subarray(0, MAC_BYTES);
}

/** Request ids of `model` signed with `keys`. */
export function requestIds(model: string, keys: SigningKeys): RequestIds {
  const verifying = [keys.current, keys.previous, keys.next].filter((key) => key !== undefined);
  return {
    issue(id, issuedMs, instances, assignment) {
      if (!Number.isFinite(issuedMs) || issuedMs < 0 || issuedMs > Number.MAX_SAFE_INTEGER)
        throw new RangeError(`issuedMs must be a non-negative epoch time in ms (got ${issuedMs})`);
      if (!Number.isSafeInteger(instances) || instances < 1 || instances > MAX_SIGNED_INSTANCES)
        throw new RangeError(
          `instances must be an integer from 1 to ${MAX_SIGNED_INSTANCES} (got ${instances})`,
        );
      if (assignment !== undefined && assignment.variants.length !== instances)
        throw new RangeError(`${assignment.variants.length} variants for ${instances} instances`);
      const safeId = ID_PATTERN.test(id) ? id : randomUUID();
      const fields = [safeId, Math.floor(issuedMs).toString(36), instances.toString(36)];
      if (assignment !== undefined)
        fields.push(experimentDigest(assignment.experimentId), packVariants(assignment.variants));
      const mac = macOf(keys.current, model, fields).toString('base64url');
      return `${fields.join('.')}.${mac}`;
    },
    verify(requestId) {
      if (typeof requestId !== 'string' || requestId.length > MAX_REQUEST_ID_LENGTH) return undefined;
      const parts = requestId.split('.');
      if (parts.length !== 4 && parts.length !== 6) return undefined;
      const mac = parts.pop() as string;
      const [id, issued, n, digest, packed] = parts as [string, string, string, string?, string?];
      if (!ID_PATTERN.test(id) || !BASE36.test(issued) || !BASE36.test(n) || !MAC_PATTERN.test(mac))
        return undefined;
      const given = Buffer.from(mac, 'base64url');
      // 22 characters carry 132 bits: the last one's spare bits must be zero, or one MAC would have
      // 16 spellings (and the count's key, built from the id, 16 values).
      if (given.length !== MAC_BYTES || given.toString('base64url') !== mac) return undefined;
      // The canonical spelling only: a base-36 number with a leading zero is another id.
      const issuedMs = Number.parseInt(issued, 36);
      const instances = Number.parseInt(n, 36);
      if (issuedMs.toString(36) !== issued || instances.toString(36) !== n) return undefined;
      if (instances < 1 || instances > MAX_SIGNED_INSTANCES) return undefined;
      let variants: ServedVariant[] | undefined;
      if (digest !== undefined) {
        if (!DIGEST_PATTERN.test(digest) || Buffer.from(digest, 'base64url').toString('base64url') !== digest)
          return undefined;
        if (packed === undefined || !BASE64URL.test(packed)) return undefined;
        variants = unpackVariants(packed, instances);
        if (variants === undefined) return undefined;
      }
      if (!verifying.some((key) => timingSafeEqual(macOf(key, model, parts), given))) return undefined;
      return {
        id,
        issuedMs,
        instances,
        ...(digest === undefined || variants === undefined ? {} : { experiment: { digest, variants } }),
        ref: `${id}.${mac}`,
      };
    },
  };
}

/** How often a failed key read is tried again (on a request, in the background). */
export const KEY_RELOAD_INTERVAL_MS = 10_000;
/** How old held keys may be before a request reads them again (rotation reaches every instance). */
export const KEY_REFRESH_MS = 5 * 60_000;
/** Longest a request waits for that read before it goes on with the keys held. */
export const KEY_REFRESH_WAIT_MS = 1_000;

/**
 * Reads the keys (await it at init) and keeps them, or keeps why they could not be read: until a
 * read succeeds, `issue` and `verify` throw DependencyError (a predict or feedback answers 502:
 * retry), or the ConfigurationError of a secret whose content breaks the rules (500), and a read is
 * tried again in the background at most every `reloadIntervalMs` (the secret may be fixed).
 * Once held, keys older than `refreshMs` are read again by the next request's `fresh()`, which waits
 * for the read up to `refreshWaitMs`, so an instance idle through a rotation neither refuses the
 * new key's ids nor signs with a dropped one; and a verify miss may `recheck()` keys read more than
 * `reloadIntervalMs` ago (or wait for a read in flight), so a slow or failed refresh never makes a
 * real id unknown for long. A failed refresh keeps the keys held (and tells `failed`); so does a
 * refresh that reads content breaking the rules (only a first read answers its ConfigurationError).
 */
export async function holdRequestIds(
  model: string,
  read: () => Promise<string>,
  hooks: {
    readonly failed?: (error: unknown) => void;
    readonly reloadIntervalMs?: number;
    readonly refreshMs?: number;
    readonly refreshWaitMs?: number;
    readonly clock?: () => number;
  } = {},
): Promise<RequestIds> {
  const clock = hooks.clock ?? Date.now;
  const interval = hooks.reloadIntervalMs ?? KEY_RELOAD_INTERVAL_MS;
  const refreshMs = hooks.refreshMs ?? KEY_REFRESH_MS;
  const waitMs = hooks.refreshWaitMs ?? KEY_REFRESH_WAIT_MS;
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
  const readAgain = (): Promise<void> => {
    inFlight ??= attempt().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  /** `read`, waited for at most `waitMs`. */
  const bounded = (read: Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    return Promise.race([read, waited]).finally(() => clearTimeout(timer));
  };
  const held = (): RequestIds => {
    if (ids !== undefined) return ids;
    if (inFlight === undefined && clock() - lastAttempt >= interval) void readAgain();
    if (error instanceof ConfigurationError) throw error;
    throw new DependencyError(
      'request-signing-key',
      `the request-signing key could not be read (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  };
  return {
    issue: (id, issuedMs, instances, assignment) => held().issue(id, issuedMs, instances, assignment),
    verify: (requestId) => held().verify(requestId),
    fresh() {
      if (ids === undefined || inFlight !== undefined || clock() - lastAttempt < refreshMs) return undefined;
      return bounded(readAgain());
    },
    recheck() {
      if (ids === undefined) return undefined;
      if (inFlight !== undefined) return bounded(inFlight);
      if (clock() - lastAttempt < interval) return undefined;
      return bounded(readAgain());
    },
  };
}
