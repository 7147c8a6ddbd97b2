/** Per test worker: point every AWS client at the emulator, with dummy credentials. */
import { inject } from 'vitest';

process.env.AWS_ENDPOINT_URL = inject('awsEndpoint');
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
