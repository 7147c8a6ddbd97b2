/**
 * Request ids for tests of the inference app: the signer the handler would build from the stack's
 * secret (lambdas/serving/request-ids.ts), with a fixed test key, and ids it would have answered.
 */
import { parseSigningKeys, type RequestIds, requestIds } from '../../lambdas/serving/request-ids.js';

/** The secret's text a test provisions or hands the signer. */
export const TEST_SIGNING_SECRET = JSON.stringify({ current: 'test-request-signing-key-0123456789abcdef' });

/** The signer of `model`'s request ids under the test key. */
export function testRequestIds(model: string): RequestIds {
  return requestIds(model, parseSigningKeys(TEST_SIGNING_SECRET));
}

/** The requestId `model`'s predict answers for Lambda request `id` with `instances` instances at `atMs`. */
export function issuedRequestId(model: string, id: string, atMs: number, instances = 1): string {
  return testRequestIds(model).issue(id, atMs, instances);
}
