/**
 * `npm run emulator`: starts the AWS API emulator (or checks the one in AWS_ENDPOINT_URL), prints
 * the environment to point a shell at it, and keeps moto up until SIGINT (Ctrl-C) or SIGTERM.
 */
import { startEmulator } from './emulator.js';

let emulator: Awaited<ReturnType<typeof startEmulator>>;
try {
  emulator = await startEmulator();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

const { endpoint, kind } = emulator;
process.stdout.write(
  [
    kind === 'moto' ? `moto server listening at ${endpoint}` : `using the emulator already at ${endpoint}`,
    'Point a shell at it with:',
    `export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
    kind === 'moto' ? 'Ctrl-C stops it.' : 'It is not managed here; nothing to stop.',
    '',
  ].join('\n'),
);

if (kind === 'moto') {
  const keepAlive = setInterval(() => {}, 1 << 30);
  const shutdown = async (signal: NodeJS.Signals) => {
    clearInterval(keepAlive);
    await emulator.stop();
    process.stdout.write(`stopped moto server (${signal})\n`);
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
