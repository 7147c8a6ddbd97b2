import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { LEASE_TABLE_KEY, ViewLeases } from '../../lambdas/feature-store/view-lease.js';
import { clients } from '../../lambdas/shared/clients.js';

const TABLE = `leases-${Date.now()}`;
const MINUTE = 60_000;

beforeAll(async () => {
  await clients.dynamodb().send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: LEASE_TABLE_KEY, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: LEASE_TABLE_KEY, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});

/** Leases against the emulator with a clock the test moves. */
function leasesAt(clock: { now: number }) {
  return new ViewLeases(clients.documents(), TABLE, () => clock.now);
}

describe('ViewLeases', () => {
  it('refuses a second run of the same view while the first holds the lease', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
    const leases = leasesAt(clock);
    const first = await leases.acquire('orders', 'run-1', 16 * MINUTE);
    expect(first?.holder).toBe('run-1');
    clock.now += 5 * MINUTE;
    expect(await leases.acquire('orders', 'run-2', 16 * MINUTE)).toBeUndefined();
  });

  it('lets another view run at the same time', async () => {
    const clock = { now: Date.parse('2026-12-01T01:00:00Z') };
    const leases = leasesAt(clock);
    expect(await leases.acquire('alpha', 'run-1', MINUTE)).toBeDefined();
    expect(await leases.acquire('beta', 'run-2', MINUTE)).toBeDefined();
  });

  it('expires: a crashed run that never released blocks the view only until its lease ends', async () => {
    const clock = { now: Date.parse('2026-12-01T02:00:00Z') };
    const leases = leasesAt(clock);
    await leases.acquire('crashy', 'crashed-run', 16 * MINUTE); // never released
    clock.now += 16 * MINUTE - 1;
    expect(await leases.acquire('crashy', 'next-run', 16 * MINUTE)).toBeUndefined();
    clock.now += 1;
    expect((await leases.acquire('crashy', 'next-run', 16 * MINUTE))?.holder).toBe('next-run');
  });

  it('released by its holder, the view is free at once; a stale holder cannot release a new lease', async () => {
    const clock = { now: Date.parse('2026-12-01T03:00:00Z') };
    const leases = leasesAt(clock);
    const old = await leases.acquire('tidy', 'run-1', MINUTE);
    if (old === undefined) throw new Error('lease not taken');
    clock.now += 2 * MINUTE; // run-1 outlived its lease; run-2 takes over
    const current = await leases.acquire('tidy', 'run-2', MINUTE);
    expect(current?.holder).toBe('run-2');
    expect(await leases.release(old)).toBe(false);
    expect(await leases.acquire('tidy', 'run-3', MINUTE)).toBeUndefined();
    if (current === undefined) throw new Error('lease not taken');
    expect(await leases.release(current)).toBe(true);
    expect((await leases.acquire('tidy', 'run-3', MINUTE))?.holder).toBe('run-3');
  });
});
