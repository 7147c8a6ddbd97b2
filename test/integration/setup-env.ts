/**
 * Runs in every integration test worker before its test files: points every AWS client (they all
 * come from lambdas/shared/clients.ts, which reads these variables) at the emulator the global
 * setup started, with a region and dummy credentials unless the environment already has them.
 */
import { inject } from 'vitest';

process.env.AWS_ENDPOINT_URL = inject('awsEndpoint');
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
