/** `npm run emulator`: starts the AWS API emulator and keeps it up until Ctrl-C. */
import { startEmulator } from './emulator.js';

const emulator = await startEmulator();
process.stdout.write(
  `${emulator.kind === 'moto' ? 'moto server' : 'external emulator'} at ${emulator.endpoint}\n` +
    `export AWS_ENDPOINT_URL=${emulator.endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n` +
    (emulator.kind === 'moto' ? 'Ctrl-C stops it.\n' : ''),
);
const shutdown = async () => {
  await emulator.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
if (emulator.kind === 'moto') setInterval(() => {}, 1 << 30);
