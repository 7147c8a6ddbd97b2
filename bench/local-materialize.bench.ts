/**
 * Materialization on the local emulator at volume: N entities ingested as one batch (the CLI's
 * path, ingestBatch), then materializeView into the online table, both provisioned from the
 * synthesized stack on a moto server started for the run. Timed: materializeView alone. Memory: the
 * moto process's peak resident set (VmHWM in /proc/<pid>/status), the figure that grew past 20 GB.
 *
 * Ours: moto through local/moto_server.py (TransactWriteItems with an undo log). Peer: the same
 * server keeping moto's own TransactWriteItems (it deep-copies every named table per operation), on
 * fewer entities (`--peer-entities`, default 1,000), since at 100,000 it would not finish.
 *
 *   npm run bench -- local-materialize     # or: npx tsx bench/local-materialize.bench.ts --entities 100000
 */
import { readFileSync } from 'node:fs';
import { ingestBatch } from '../lambdas/feature-store/ingest.js';
import { materializeView } from '../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../lambdas/feature-store/online-store.js';
import { clients } from '../lambdas/shared/clients.js';
import { S3ObjectStore } from '../lambdas/shared/object-store.js';
import { STACK_OUTPUTS } from '../lib/stack-outputs.js';
import { synthesize } from '../local/assembly.js';
import { startEmulator } from '../local/emulator.js';
import { provision } from '../local/provision.js';
import { arg, customerView } from './support.js';

const ENTITIES = arg('entities', 100_000);
const PEER_ENTITIES = arg('peer-entities', 1_000);
const TARGET_SECONDS = 60;
const TARGET_MIB = 1024;

const view = customerView;

process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
// The synthesized template names the bucket and table (bundling is not needed to provision them).
const [stack] = synthesize(undefined, { context: { 'aws:cdk:bundling-stacks': [] } }).stacks;
if (stack === undefined) throw new Error('the app synthesized no stack');
const outputs = (stack.template as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {};

function peakMiB(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (hwm?.[1] === undefined) throw new Error(`no VmHWM for process ${pid}`);
  return Number(hwm[1]) / 1024;
}

interface Run {
  readonly entities: number;
  readonly seconds: number;
  readonly peakMiB: number;
}

async function run(entities: number, motoTransactions: boolean): Promise<Run> {
  // Always a moto started here (not AWS_ENDPOINT_URL's emulator): its memory is what is measured.
  const emulator = await startEmulator({ env: {}, motoTransactions });
  try {
    if (emulator.pid === undefined) throw new Error('the emulator has no process id');
    process.env.AWS_ENDPOINT_URL = emulator.endpoint;
    const provisioned = await provision(stack as NonNullable<typeof stack>);
    const name = (key: keyof typeof STACK_OUTPUTS) =>
      String(provisioned.resolve(outputs[STACK_OUTPUTS[key]]?.Value, STACK_OUTPUTS[key]));
    const store = new S3ObjectStore(clients.s3(), name('offlineBucket'));
    const online = new OnlineStore(clients.documents(), name('onlineTable'));

    const now = Date.now();
    const lines = Array.from({ length: entities }, (_, i) =>
      JSON.stringify({
        customer_id: `c${i}`,
        event_time: now - 60_000 - (i % 3_600) * 1000,
        orders: i % 50,
        spend: i / 7,
      }),
    );
    const ingested = await ingestBatch(
      { view: view.name, batchId: `bench-${entities}`, format: 'jsonl' },
      new TextEncoder().encode(lines.join('\n')),
      { store, views: new Map([[view.name, view]]) },
    );
    if (ingested.accepted !== entities) throw new Error(`ingested ${ingested.accepted} of ${entities} rows`);

    const t0 = performance.now();
    const result = await materializeView(view, { store, online });
    const seconds = (performance.now() - t0) / 1000;
    if (result.written !== entities)
      throw new Error(`materialized ${result.written} of ${entities} entities`);
    const [probe] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: `c${entities - 1}` }]);
    if (probe?.features.orders?.value !== (entities - 1) % 50)
      throw new Error('online value read back is wrong');
    return { entities, seconds, peakMiB: peakMiB(emulator.pid) };
  } finally {
    await emulator.stop();
  }
}

const ours = await run(ENTITIES, false);
const peer = PEER_ENTITIES > 0 ? await run(PEER_ENTITIES, true) : undefined;
const rate = (r: Run) => r.entities / r.seconds;
const fmt = (x: number) => x.toExponential(2);
const peerText = (text: (peer: Run) => string) => (peer === undefined ? 'peer not run' : text(peer));
console.log(
  `local-materialize entities/s: ours ${fmt(rate(ours))} (${ours.entities} entities in ${ours.seconds.toFixed(1)} s), ` +
    peerText(
      (p) =>
        `peer ${fmt(rate(p))} (moto's own TransactWriteItems, ${p.entities} entities in ${p.seconds.toFixed(1)} s), ratio ${(rate(ours) / rate(p)).toFixed(2)}`,
    ),
);
console.log(
  `local-materialize emulator peak MiB: ours ${ours.peakMiB.toFixed(0)} (${ours.entities} entities), ` +
    peerText(
      (p) =>
        `peer ${p.peakMiB.toFixed(0)} (${p.entities} entities), ratio ${(p.peakMiB / ours.peakMiB).toFixed(2)}`,
    ),
);
console.log(
  `local-materialize our process peak MiB: ours ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} ` +
    `(this process: ingest then materializeView of ${ours.entities} entities, as the function would hold them), peer none`,
);
console.log(
  `local-materialize note: targets at ${ours.entities} entities: under ${TARGET_SECONDS} s ` +
    `(${ours.seconds < TARGET_SECONDS ? 'met' : 'MISSED'}), emulator under ${TARGET_MIB} MiB ` +
    `(${ours.peakMiB < TARGET_MIB ? 'met' : 'MISSED'})`,
);
