import { describe, expect, it } from 'vitest';
import {
  experimentDigest,
  holdRequestIds,
  type IssuedRequest,
  KEY_RELOAD_INTERVAL_MS,
  MAX_REQUEST_ID_LENGTH,
  MAX_SIGNED_INSTANCES,
  MIN_SIGNING_KEY_LENGTH,
  parseSigningKeys,
  requestIds,
  requestRef,
  type ServedVariant,
  type SigningKeys,
} from '../../lambdas/serving/request-ids.js';
import { mulberry32 } from '../../lambdas/shared/random.js';

const MODEL = 'churn';
const KEY_A = 'a'.repeat(MIN_SIGNING_KEY_LENGTH);
const KEY_B = 'b'.repeat(MIN_SIGNING_KEY_LENGTH + 8);
const KEY_C = 'c-key-with-some-variety-0123456789-xyz';
const LAMBDA_ID = '8f3c2a1e-4b5d-4e6f-9a0b-1c2d3e4f5a6b';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-';
/** Every character a tamperer might put in: the id, base-36 and base64url alphabets and separators. */
const FLIP_ALPHABET = `${ID_ALPHABET}_.+/= `;

const keysOf = (current: string, previous?: string): SigningKeys =>
  previous === undefined
    ? { current: Buffer.from(current) }
    : { current: Buffer.from(current), previous: Buffer.from(previous) };

/** Seeded, so the random cases are the same on every run. */
const prng = mulberry32;

const parts = (requestId: string): [string, string, string, string] => {
  const split = requestId.split('.');
  expect(split).toHaveLength(4);
  return split as [string, string, string, string];
};

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('requestIds round trip', () => {
  it('issues <id>.<issued base36>.<instances base36>.<mac> and verifies it back', () => {
    const ids = requestIds(MODEL, keysOf(KEY_A));
    const requestId = ids.issue(LAMBDA_ID, NOW, 3);
    const [id, issued, n, mac] = parts(requestId);
    expect(id).toBe(LAMBDA_ID);
    expect(issued).toBe(NOW.toString(36));
    expect(n).toBe('3');
    expect(mac).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(ids.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 3 });
    // Its short reference: the id and the mac, whatever the batch.
    expect(ids.verify(requestId)?.ref).toBe(`${LAMBDA_ID}.${requestId.split('.').at(-1)}`);
    expect(requestRef(requestId)).toBe(ids.verify(requestId)?.ref);
  });

  it('is deterministic for the same inputs and key, and differs across keys and models', () => {
    const a = requestIds(MODEL, keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 2);
    expect(requestIds(MODEL, keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 2)).toBe(a);
    expect(requestIds(MODEL, keysOf(KEY_B)).issue(LAMBDA_ID, NOW, 2)).not.toBe(a);
    expect(requestIds('other', keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 2)).not.toBe(a);
  });

  it('verifies 2,000 seeded random ids, times and batch sizes', () => {
    const random = prng(0x5eed);
    const ids = requestIds(MODEL, keysOf(KEY_C));
    const pick = (max: number) => Math.floor(random() * max);
    for (let i = 0; i < 2_000; i++) {
      const length = 1 + pick(64);
      let id = '';
      for (let j = 0; j < length; j++) id += ID_ALPHABET[pick(ID_ALPHABET.length)];
      const kind = i % 4;
      const issuedMs =
        kind === 0
          ? pick(2) * Number.MAX_SAFE_INTEGER
          : kind === 1
            ? random() * Number.MAX_SAFE_INTEGER
            : kind === 2
              ? NOW + random() * 1e9
              : pick(1000) + random();
      const instances =
        kind === 0
          ? 1 + pick(2) * (MAX_SIGNED_INSTANCES - 1)
          : 1 + pick(i % 3 === 0 ? MAX_SIGNED_INSTANCES : 40);
      // Every other case served under an experiment, each instance its own variant.
      const variants =
        i % 2 === 0
          ? undefined
          : Array.from(
              { length: instances },
              () => (['default', 'control', 'treatment'] as const)[pick(3)] as ServedVariant,
            );
      const experimentId = `exp-${pick(1000)}`;
      const requestId = ids.issue(
        id,
        issuedMs,
        instances,
        variants === undefined ? undefined : { experimentId, variants },
      );
      expect(requestId.length).toBeLessThanOrEqual(MAX_REQUEST_ID_LENGTH);
      const expected: IssuedRequest = {
        ref: requestRef(requestId),
        id,
        issuedMs: Math.floor(issuedMs),
        instances,
        ...(variants === undefined
          ? {}
          : { experiment: { digest: experimentDigest(experimentId), variants } }),
      };
      expect(ids.verify(requestId), `case ${i}: ${id} ${issuedMs} ${instances}`).toEqual(expected);
    }
  });

  it('floors a fractional issue time', () => {
    const ids = requestIds(MODEL, keysOf(KEY_A));
    expect(ids.verify(ids.issue('r-1', NOW + 0.999, 1))?.issuedMs).toBe(NOW);
    expect(ids.verify(ids.issue('r-1', 0, 1))).toMatchObject({ id: 'r-1', issuedMs: 0, instances: 1 });
  });
});

describe('requestIds tampering', () => {
  const ids = requestIds(MODEL, keysOf(KEY_A));
  const issued = [
    ids.issue(LAMBDA_ID, NOW, 1),
    ids.issue('x', 0, 36),
    ids.issue('harness-run-7', NOW + 123.4, 1000),
  ];

  it('refuses every single-character change of an issued id', () => {
    for (const requestId of issued) {
      expect(ids.verify(requestId)).toBeDefined();
      const macStart = requestId.lastIndexOf('.') + 1;
      let tried = 0;
      let macTried = 0;
      for (let i = 0; i < requestId.length; i++) {
        for (const c of FLIP_ALPHABET) {
          if (c === requestId[i]) continue;
          const tampered = requestId.slice(0, i) + c + requestId.slice(i + 1);
          tried++;
          // None verifies, not even a last mac character differing only in its 4 spare bits
          // (22 base64url characters carry 132 bits for a 128-bit mac): one id, one spelling, or
          // a feedback's default idempotency key (built from it) would have 16 values.
          expect(ids.verify(tampered), `${tampered} (from ${requestId}) verified`).toBeUndefined();
          if (i >= macStart) macTried++;
        }
      }
      expect(tried).toBeGreaterThan(requestId.length * 60);
      expect(macTried).toBeGreaterThan(22 * 60);
    }
  });

  it('refuses a mac spelled with spare bits set in its last character (the same 16 bytes)', () => {
    const requestId = ids.issue(LAMBDA_ID, NOW, 1);
    const last = requestId.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = alphabet.indexOf(last);
    const sameBytes = [...alphabet].filter((c, j) => c !== last && j >> 4 === index >> 4);
    expect(sameBytes).toHaveLength(15);
    for (const c of sameBytes) {
      const other = `${requestId.slice(0, -1)}${c}`;
      expect(Buffer.from(other.split('.')[3] as string, 'base64url')).toEqual(
        Buffer.from(requestId.split('.')[3] as string, 'base64url'),
      );
      expect(ids.verify(other), other).toBeUndefined();
    }
  });

  it('refuses a changed issue time, instance count, id or mac', () => {
    const [id, time, n, mac] = parts(ids.issue(LAMBDA_ID, NOW, 5));
    expect(ids.verify([id, time, n, mac].join('.'))).toBeDefined();
    expect(ids.verify([id, (NOW + 1).toString(36), n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, (NOW - 1000).toString(36), n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, '6', mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, 'z', mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, '0', mac].join('.'))).toBeUndefined();
    expect(ids.verify(['another-id', time, n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id.toUpperCase(), time, n, mac].join('.'))).toBeUndefined();
    const otherMac = parts(ids.issue(LAMBDA_ID, NOW, 6))[3];
    expect(ids.verify([id, time, n, otherMac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, n, 'A'.repeat(22)].join('.'))).toBeUndefined();
  });

  it("refuses another model's ids and ids signed with another key", () => {
    const requestId = ids.issue(LAMBDA_ID, NOW, 2);
    expect(requestIds('fraud', keysOf(KEY_A)).verify(requestId)).toBeUndefined();
    expect(requestIds(`${MODEL} `, keysOf(KEY_A)).verify(requestId)).toBeUndefined();
    expect(requestIds(MODEL, keysOf(KEY_B)).verify(requestId)).toBeUndefined();
    expect(requestIds(MODEL, keysOf(`${KEY_A}x`)).verify(requestId)).toBeUndefined();
    expect(ids.verify(requestIds('fraud', keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 2))).toBeUndefined();
  });

  it('refuses non-canonical base 36 (leading zero, uppercase)', () => {
    const [id, time, n, mac] = parts(ids.issue(LAMBDA_ID, NOW, 20));
    expect(n).toBe('k');
    expect(ids.verify([id, `0${time}`, n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, `0${n}`, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time.toUpperCase(), n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, 'K', mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, `+${time}`, n, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, `${n} `, mac].join('.'))).toBeUndefined();
  });

  it('refuses malformed ids: part count, empty, over-long, a plain UUID', () => {
    const requestId = ids.issue(LAMBDA_ID, NOW, 2);
    const [id, time, n, mac] = parts(requestId);
    expect(ids.verify('')).toBeUndefined();
    expect(ids.verify('...')).toBeUndefined();
    expect(ids.verify(LAMBDA_ID)).toBeUndefined();
    expect(ids.verify('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(ids.verify([id, time, n].join('.'))).toBeUndefined();
    expect(ids.verify([time, n, mac].join('.'))).toBeUndefined();
    expect(ids.verify(`${requestId}.`)).toBeUndefined();
    expect(ids.verify(`${requestId}.x`)).toBeUndefined();
    expect(ids.verify(`x.${requestId}`)).toBeUndefined();
    expect(ids.verify(` ${requestId}`)).toBeUndefined();
    expect(ids.verify(`${requestId}\n`)).toBeUndefined();
    expect(ids.verify([id, time, n, `${mac}A`].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, n, mac.slice(1)].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, n, `${mac.slice(0, 20)}==`].join('.'))).toBeUndefined();
    expect(ids.verify(`${requestId}${'A'.repeat(MAX_REQUEST_ID_LENGTH)}`)).toBeUndefined();
  });

  it('refuses an over-long request id before parsing it, even one that would otherwise verify', () => {
    const longIds = requestIds('m'.repeat(MAX_REQUEST_ID_LENGTH), keysOf(KEY_A));
    const atLimit = longIds.issue('i'.repeat(64), Number.MAX_SAFE_INTEGER, MAX_SIGNED_INSTANCES, {
      experimentId: 'e'.repeat(128),
      variants: Array.from({ length: MAX_SIGNED_INSTANCES }, () => 'treatment' as const),
    });
    expect(atLimit.length).toBeLessThanOrEqual(MAX_REQUEST_ID_LENGTH);
    expect(longIds.verify(atLimit)).toBeDefined();
    expect(ids.verify('a'.repeat(MAX_REQUEST_ID_LENGTH + 1))).toBeUndefined();
    expect(ids.verify(`${'.'.repeat(MAX_REQUEST_ID_LENGTH + 1)}`)).toBeUndefined();
  });
});

describe('requestIds under an experiment', () => {
  const ids = requestIds(MODEL, keysOf(KEY_A));
  const variants = ['control', 'default', 'treatment', 'treatment', 'control'] as const;
  const issued = ids.issue(LAMBDA_ID, NOW, 5, { experimentId: 'churn-ab', variants: [...variants] });

  it('carries the experiment digest and every instance variant, signed', () => {
    expect(issued.split('.')).toHaveLength(6);
    expect(ids.verify(issued)).toMatchObject({
      id: LAMBDA_ID,
      issuedMs: NOW,
      instances: 5,
      experiment: { digest: experimentDigest('churn-ab'), variants: [...variants] },
    });
    expect(experimentDigest('churn-ab')).not.toBe(experimentDigest('churn-ab2'));
  });

  it('refuses a changed variant, experiment digest, or the experiment fields dropped or added', () => {
    const [id, time, n, digest, packed, mac] = issued.split('.') as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const other = ids.issue(LAMBDA_ID, NOW, 5, {
      experimentId: 'churn-ab',
      variants: ['treatment', 'default', 'treatment', 'treatment', 'control'],
    });
    const otherPacked = other.split('.')[4] as string;
    expect(otherPacked).not.toBe(packed);
    expect(ids.verify([id, time, n, digest, otherPacked, mac].join('.'))).toBeUndefined();
    expect(ids.verify([id, time, n, experimentDigest('other'), packed, mac].join('.'))).toBeUndefined();
    // Without its experiment fields it is another message (another domain): refused.
    expect(ids.verify([id, time, n, mac].join('.'))).toBeUndefined();
    const plain = ids.issue(LAMBDA_ID, NOW, 5);
    const plainMac = plain.split('.')[3] as string;
    expect(ids.verify([id, time, n, digest, packed, plainMac].join('.'))).toBeUndefined();
    // A mask with a bit set past the last instance, or a code 3, is no mask.
    const bytes = Buffer.from(packed, 'base64url');
    const past = Buffer.from(bytes);
    past[1] = (past[1] as number) | 0b1100;
    expect(ids.verify([id, time, n, digest, past.toString('base64url'), mac].join('.'))).toBeUndefined();
    expect(() => ids.issue(LAMBDA_ID, NOW, 2, { experimentId: 'e', variants: ['control'] })).toThrow(
      RangeError,
    );
  });
});

describe('requestIds key rotation', () => {
  const onlyA = requestIds(MODEL, keysOf(KEY_A));
  const rotated = requestIds(MODEL, keysOf(KEY_B, KEY_A));
  const onlyB = requestIds(MODEL, keysOf(KEY_B));

  it('verifies ids signed with the previous key', () => {
    const requestId = onlyA.issue(LAMBDA_ID, NOW, 4);
    expect(rotated.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 4 });
  });

  it('signs with current: its ids verify under current alone, not under previous alone', () => {
    const requestId = rotated.issue(LAMBDA_ID, NOW, 4);
    expect(requestId).toBe(onlyB.issue(LAMBDA_ID, NOW, 4));
    expect(onlyB.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 4 });
    expect(rotated.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 4 });
    expect(onlyA.verify(requestId)).toBeUndefined();
  });

  it('verifies ids of the next key before it signs (the first step of a rotation)', () => {
    const announced = requestIds(MODEL, { current: Buffer.from(KEY_A), next: Buffer.from(KEY_B) });
    expect(announced.issue(LAMBDA_ID, NOW, 4)).toBe(onlyA.issue(LAMBDA_ID, NOW, 4));
    expect(announced.verify(onlyB.issue(LAMBDA_ID, NOW, 4))).toMatchObject({
      id: LAMBDA_ID,
      issuedMs: NOW,
      instances: 4,
    });
    expect(parseSigningKeys(JSON.stringify({ current: KEY_A, next: KEY_B })).next).toEqual(
      Buffer.from(KEY_B),
    );
  });

  it('refuses ids of a key dropped from the secret', () => {
    expect(onlyB.verify(onlyA.issue(LAMBDA_ID, NOW, 4))).toBeUndefined();
    expect(requestIds(MODEL, keysOf(KEY_C, KEY_B)).verify(onlyA.issue(LAMBDA_ID, NOW, 4))).toBeUndefined();
  });
});

describe('requestIds issue', () => {
  const ids = requestIds(MODEL, keysOf(KEY_A));

  it.each([
    ['a dot', 'abc.def'],
    ['empty', ''],
    ['65 characters', 'a'.repeat(65)],
    ['a slash', 'a/b'],
    ['an underscore', 'a_b'],
    ['a space', 'a b'],
    ['a newline', 'abc\n'],
    ['non-ASCII', 'é'],
  ])('replaces an id with %s by a random UUID that verifies', (_, id) => {
    const requestId = ids.issue(id, NOW, 2);
    const verified = ids.verify(requestId);
    expect(verified).toBeDefined();
    expect(verified?.id).toMatch(UUID_PATTERN);
    expect(verified).toMatchObject({ id: verified?.id, issuedMs: NOW, instances: 2 });
    expect(ids.issue(id, NOW, 2)).not.toBe(requestId);
  });

  it('keeps an id of 64 characters of the allowed alphabet', () => {
    const id = `${ID_ALPHABET}9`;
    expect(id).toHaveLength(64);
    expect(ids.verify(ids.issue(id, NOW, 1))?.id).toBe(id);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])(
    'rejects %s instances',
    (instances) => {
      expect(() => ids.issue(LAMBDA_ID, NOW, instances)).toThrow(RangeError);
    },
  );

  it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2])(
    'rejects an issue time of %s',
    (issuedMs) => {
      expect(() => ids.issue(LAMBDA_ID, issuedMs, 1)).toThrow(RangeError);
    },
  );
});

describe('parseSigningKeys', () => {
  const configurationError = (secret: string): Error => {
    try {
      parseSigningKeys(secret);
    } catch (error) {
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('ConfigurationError');
      return error as Error;
    }
    throw new Error(`parseSigningKeys accepted ${secret}`);
  };
  const short = 'k'.repeat(MIN_SIGNING_KEY_LENGTH - 1);

  it.each([
    ['not JSON', 'not json'],
    ['empty', ''],
    ['a bare key', KEY_A],
    ['an array', JSON.stringify([KEY_A])],
    ['null', 'null'],
    ['a string', JSON.stringify(KEY_A)],
    ['a number', '42'],
  ])('rejects a secret that is %s', (_, secret) => {
    expect(configurationError(secret).message).toMatch(/JSON object/);
  });

  it.each([
    ['missing', {}],
    ['missing (previous only)', { previous: KEY_A }],
    ['short', { current: short }],
    ['empty', { current: '' }],
    ['a number', { current: 1e40 }],
    ['null', { current: null }],
  ])('rejects a current that is %s', (_, secret) => {
    const { message } = configurationError(JSON.stringify(secret));
    expect(message).toContain('current');
    expect(message).not.toContain('previous');
    expect(message).toContain(String(MIN_SIGNING_KEY_LENGTH));
  });

  it.each([
    ['short', { current: KEY_A, previous: short }],
    ['empty', { current: KEY_A, previous: '' }],
    ['a number', { current: KEY_A, previous: 1 }],
    ['null', { current: KEY_A, previous: null }],
    ['an array', { current: KEY_A, previous: [KEY_B] }],
  ])('rejects a previous that is %s', (_, secret) => {
    const { message } = configurationError(JSON.stringify(secret));
    expect(message).toContain('previous');
    expect(message).not.toContain('current');
  });

  it('accepts current alone', () => {
    expect(parseSigningKeys(JSON.stringify({ current: KEY_A }))).toEqual({ current: Buffer.from(KEY_A) });
  });

  it('accepts current and previous (and ignores other fields)', () => {
    const keys = parseSigningKeys(JSON.stringify({ current: KEY_B, previous: KEY_A, note: 'rotated' }));
    expect(keys).toEqual({ current: Buffer.from(KEY_B), previous: Buffer.from(KEY_A) });
  });

  it('gives keys that sign and verify like the same raw keys', () => {
    const parsed = requestIds(MODEL, parseSigningKeys(JSON.stringify({ current: KEY_B, previous: KEY_A })));
    expect(parsed.verify(requestIds(MODEL, keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 1))).toBeDefined();
    expect(parsed.issue(LAMBDA_ID, NOW, 1)).toBe(requestIds(MODEL, keysOf(KEY_B)).issue(LAMBDA_ID, NOW, 1));
  });
});

describe('holdRequestIds', () => {
  const SECRET = JSON.stringify({ current: KEY_B, previous: KEY_A });

  /** A secret read that fails `failures` times, then answers `secret`; counts its calls. */
  function flakyRead(failures: number, secret = SECRET) {
    const state = { calls: 0 };
    const read = async (): Promise<string> => {
      state.calls++;
      if (state.calls <= failures) throw new Error(`secrets manager down (${state.calls})`);
      return secret;
    };
    return { state, read };
  }

  const expectDependencyError = (call: () => unknown) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).name).toBe('DependencyError');
    expect((thrown as { dependency?: string }).dependency).toBe('request-signing-key');
    expect((thrown as Error).message).toContain('secrets manager down');
    expect((thrown as Error).cause).toBeInstanceOf(Error);
  };

  it('re-reads keys older than refreshMs before the next request uses them: an idle instance follows a rotation', async () => {
    let secret = JSON.stringify({ current: KEY_A });
    let calls = 0;
    let fail = false;
    let hang = false;
    let now = 0;
    const failures: unknown[] = [];
    const held = await holdRequestIds(
      MODEL,
      async () => {
        calls++;
        if (hang) return new Promise<string>(() => {});
        if (fail) throw new Error('throttled');
        return secret;
      },
      { refreshMs: 1000, refreshWaitMs: 20, clock: () => now, failed: (e) => failures.push(e) },
    );
    const byB = requestIds(MODEL, keysOf(KEY_B)).issue(LAMBDA_ID, NOW, 1);
    expect(held.verify(byB)).toBeUndefined();
    // Fresh keys: nothing to wait for, no read.
    now = 999;
    expect(held.fresh?.()).toBeUndefined();
    expect(calls).toBe(1);
    // The rotation's first step lands while the instance idles; the next request waits for the read.
    secret = JSON.stringify({ current: KEY_A, next: KEY_B });
    now = 1000;
    await held.fresh?.();
    expect(calls).toBe(2);
    expect(held.verify(byB)).toBeDefined();
    // The second step: the first request after it signs with B.
    secret = JSON.stringify({ current: KEY_B, previous: KEY_A });
    now = 2000;
    await held.fresh?.();
    expect(held.issue(LAMBDA_ID, NOW, 1)).toBe(byB);
    // A failed refresh keeps the keys held.
    fail = true;
    now = 3000;
    await held.fresh?.();
    expect(calls).toBe(4);
    expect(failures).toHaveLength(1);
    expect(held.issue(LAMBDA_ID, NOW, 1)).toBe(byB);
    // A hung read is waited for refreshWaitMs at most; the request goes on with the keys held.
    hang = true;
    now = 4000;
    const started = performance.now();
    await held.fresh?.();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(held.issue(LAMBDA_ID, NOW, 1)).toBe(byB);
    // While that read hangs, no request starts another (nor waits again).
    expect(held.fresh?.()).toBeUndefined();
    expect(calls).toBe(5);
  });

  it('rechecks after a verify miss: keys read a while ago are read again, a read in flight is waited for', async () => {
    let secret = JSON.stringify({ current: KEY_A });
    let calls = 0;
    let now = 0;
    let release: (() => void) | undefined;
    let slow = false;
    const held = await holdRequestIds(
      MODEL,
      async () => {
        calls++;
        if (slow) await new Promise<void>((resolve) => (release = resolve));
        return secret;
      },
      { reloadIntervalMs: 100, refreshMs: 60_000, refreshWaitMs: 5_000, clock: () => now },
    );
    const byB = requestIds(MODEL, keysOf(KEY_B)).issue(LAMBDA_ID, NOW, 1);
    // Read moments ago: nothing newer to read, no read.
    now = 99;
    expect(held.recheck?.()).toBeUndefined();
    expect(calls).toBe(1);
    // Another instance already signs with B (the second put landed): a miss reads again, then verifies.
    secret = JSON.stringify({ current: KEY_B, previous: KEY_A });
    now = 100;
    await held.recheck?.();
    expect(calls).toBe(2);
    expect(held.verify(byB)).toBeDefined();
    // A read in flight (a slow refresh) is waited for, not started again.
    slow = true;
    secret = JSON.stringify({ current: KEY_C, previous: KEY_B });
    now = 60_100;
    const refreshing = held.fresh?.();
    expect(refreshing).toBeDefined();
    const rechecking = held.recheck?.();
    expect(rechecking).toBeDefined();
    release?.();
    await rechecking;
    await refreshing;
    expect(calls).toBe(3);
    expect(held.verify(requestIds(MODEL, keysOf(KEY_C)).issue(LAMBDA_ID, NOW, 1))).toBeDefined();
  });

  it('reads once and then answers from the keys it holds', async () => {
    const { state, read } = flakyRead(0);
    const held = await holdRequestIds(MODEL, read);
    const requestId = held.issue(LAMBDA_ID, NOW, 2);
    expect(held.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 2 });
    expect(requestId).toBe(requestIds(MODEL, keysOf(KEY_B)).issue(LAMBDA_ID, NOW, 2));
    expect(held.verify(requestIds(MODEL, keysOf(KEY_A)).issue(LAMBDA_ID, NOW, 2))).toBeDefined();
    expect(held.verify('nope')).toBeUndefined();
    expect(state.calls).toBe(1);
  });

  it('throws DependencyError while the read fails and re-reads at most once per interval', async () => {
    let now = 1_000_000;
    const failed: unknown[] = [];
    const { state, read } = flakyRead(1);
    const held = await holdRequestIds(MODEL, read, {
      clock: () => now,
      reloadIntervalMs: 5_000,
      failed: (error) => failed.push(error),
    });
    expect(state.calls).toBe(1);
    expect(failed).toHaveLength(1);
    expect((failed[0] as Error).message).toBe('secrets manager down (1)');

    // Within the interval: refused, and no new read.
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expectDependencyError(() => held.verify('x.1.1.AAAAAAAAAAAAAAAAAAAAAA'));
    now += 4_999;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    await tick();
    expect(state.calls).toBe(1);

    // Past the interval: this call still throws, but starts one background read.
    now += 1;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expect(state.calls).toBe(2);
    await tick();
    const requestId = held.issue(LAMBDA_ID, NOW, 3);
    expect(held.verify(requestId)).toMatchObject({ id: LAMBDA_ID, issuedMs: NOW, instances: 3 });
    expect(state.calls).toBe(2);
    expect(failed).toHaveLength(1);
  });

  it('keeps one read in flight and restarts the interval after a failed re-read', async () => {
    let now = 0;
    const failed: unknown[] = [];
    const { state, read } = flakyRead(2);
    const held = await holdRequestIds(MODEL, read, {
      clock: () => now,
      reloadIntervalMs: 100,
      failed: (error) => failed.push(error),
    });
    now = 100;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expectDependencyError(() => held.verify('x'));
    expect(state.calls).toBe(2);
    await tick();
    expect(failed).toHaveLength(2);
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expect(state.calls).toBe(2);
    now = 199;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expect(state.calls).toBe(2);
    now = 200;
    expectDependencyError(() => held.verify('x'));
    expect(state.calls).toBe(3);
    await tick();
    expect(held.verify(held.issue('r', NOW, 1))).toMatchObject({ id: 'r', issuedMs: NOW, instances: 1 });
  });

  it('defaults the interval to KEY_RELOAD_INTERVAL_MS', async () => {
    let now = 50;
    const { state, read } = flakyRead(1);
    const held = await holdRequestIds(MODEL, read, { clock: () => now });
    now += KEY_RELOAD_INTERVAL_MS - 1;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expect(state.calls).toBe(1);
    now += 1;
    expectDependencyError(() => held.issue(LAMBDA_ID, NOW, 1));
    expect(state.calls).toBe(2);
    await tick();
    expect(held.verify(held.issue(LAMBDA_ID, NOW, 1))).toBeDefined();
  });

  it.each([
    ['not JSON', 'oops'],
    ['a short current', JSON.stringify({ current: 'short' })],
    ['a short previous', JSON.stringify({ current: KEY_A, previous: 'short' })],
  ])(
    'throws ConfigurationError for a secret that is %s, and re-reads it each interval (it may be fixed)',
    async (_, secret) => {
      let now = 0;
      const failed: unknown[] = [];
      const { state, read } = flakyRead(0, secret);
      const held = await holdRequestIds(MODEL, read, {
        clock: () => now,
        reloadIntervalMs: 10,
        failed: (error) => failed.push(error),
      });
      expect(failed).toHaveLength(1);
      expect((failed[0] as Error).name).toBe('ConfigurationError');
      for (let i = 0; i < 3; i++) {
        now += 1_000_000;
        expect(() => held.issue(LAMBDA_ID, NOW, 1)).toThrow(
          expect.objectContaining({ name: 'ConfigurationError' }),
        );
        expect(() => held.verify('x')).toThrow(expect.objectContaining({ name: 'ConfigurationError' }));
        await tick();
      }
      expect(state.calls).toBe(4);
      expect(failed).toHaveLength(4);
    },
  );
});
