/**
 * `mlops predict <model> --features k=v,… | --entity k=v,…`: one prediction from the inference
 * API — the local one when the local stack runs (the URL `npm start` or `mlops serve start`
 * recorded in the local state, else http://127.0.0.1:3000), else
 * the deployed stack's (its output InferenceApiUrl), SigV4-signed (service `execute-api`) with the
 * default credential chain. `--url` names the API; it is signed unless it is on this machine.
 */
import type { Command } from 'commander';
import type {
  ErrorBody,
  PredictInstance,
  PredictResponse,
  RequestValue,
} from '../../../lambdas/serving/contract.js';
import { clientSettings } from '../../../lambdas/shared/clients.js';
import { API_ROUTES } from '../../../lambdas/shared/layout.js';
import { DEFAULT_SERVE_PORT } from '../../../local/http-adapter.js';
import { useLocalStack } from '../../../local/local-state.js';
import { signedFetch } from '../../../local/sigv4.js';
import type { CliIo } from '../../mlops.js';
import { CliContext } from '../context.js';
import { CliFailure, CliInputError, EXIT, type ExitCode, setExitCode, table } from '../output.js';
import { resourceName } from '../resources.js';

/** A value as typed on the command line: a number, true/false, null, else the text. */
export function parseValue(text: string): RequestValue {
  if (text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return text;
}

/**
 * An entity key value as typed: a number as {@link parseValue} reads it (an int64 entity's key),
 * when the text is that number's own spelling; else the text ('007', 'c-1', 'true' stay text, an
 * entity key being a string or a number).
 */
export function parseEntityValue(text: string): string | number {
  const value = parseValue(text);
  return typeof value === 'number' && String(value) === text ? value : text;
}

/** `k=v,k2=v2` → an object; bad input names the flag and the pair. */
export function parsePairs(flag: string, text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || key === '')
      throw new CliInputError(
        flag,
        `must be name=value pairs separated by commas (${JSON.stringify(part)} is not)`,
        `e.g. --${flag} age=41,segment=new`,
      );
    pairs[key] = part.slice(eq + 1).trim();
  }
  return pairs;
}

/** The predict request the flags describe. */
export function instanceOf(options: { features?: string; entity?: string }): PredictInstance {
  if (options.features === undefined && options.entity === undefined)
    throw new CliInputError('features', 'give --features name=value,… or --entity name=value (or both)');
  return {
    ...(options.features === undefined
      ? {}
      : {
          features: Object.fromEntries(
            Object.entries(parsePairs('features', options.features)).map(([k, v]) => [k, parseValue(v)]),
          ),
        }),
    ...(options.entity === undefined
      ? {}
      : {
          entity: Object.fromEntries(
            Object.entries(parsePairs('entity', options.entity)).map(([k, v]) => [k, parseEntityValue(v)]),
          ),
        }),
  };
}

const isLocalUrl = (url: URL) => ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);

/** The API's base URL, and whether requests to it are signed. */
async function apiOf(ctx: CliContext, given: string | undefined): Promise<{ base: string; sign: boolean }> {
  if (given !== undefined) {
    let url: URL;
    try {
      url = new URL(given);
    } catch {
      throw new CliInputError(
        'url',
        'must be an http(s) URL',
        `e.g. --url http://127.0.0.1:${DEFAULT_SERVE_PORT}`,
      );
    }
    return { base: given, sign: !isLocalUrl(url) };
  }
  const local = await useLocalStack(ctx.options.stack ?? ctx.config.stackName);
  // The URL `npm start` / `mlops serve start` recorded (the port it bound), else the default port.
  if (local !== undefined)
    return { base: local.inferenceApiUrl ?? `http://127.0.0.1:${DEFAULT_SERVE_PORT}`, sign: false };
  return { base: await resourceName(ctx.options, ctx.config.stackName, 'inferenceApiUrl'), sign: true };
}

/** The exit code for an API error status: bad input, not found, else failure. */
function exitOf(status: number): ExitCode {
  if (status === 404) return EXIT.notFound;
  if (status >= 400 && status < 500) return EXIT.badInput;
  return EXIT.failure;
}

/** Adds `predict` to `program`. */
export function registerPredictCommand(program: Command, io: CliIo): void {
  program
    .command('predict')
    .description(
      'one prediction from the inference API (local when the local stack runs, else deployed, SigV4-signed)',
    )
    .argument('<model>', 'model name')
    .option('--features <pairs>', 'raw feature values: name=value,… (numbers, true/false, null, else text)')
    .option(
      '--entity <pairs>',
      'entity key whose features the online store gives: name=value,… (numbers as numbers, else text)',
    )
    .option(
      '--url <url>',
      `the API's base URL (default: http://127.0.0.1:${DEFAULT_SERVE_PORT} with the local stack, else the stack output)`,
    )
    .action(async (model: string, options: { features?: string; entity?: string; url?: string }) => {
      const instance = instanceOf(options);
      const ctx = await CliContext.load(program, io);
      const { base, sign } = await apiOf(ctx, options.url);
      const url = `${base.replace(/\/+$/, '')}${API_ROUTES.predict.replace('{model}', encodeURIComponent(model))}`;
      const body = JSON.stringify(instance);
      const headers = { 'content-type': 'application/json' };
      let response: Response;
      try {
        response = sign
          ? await signedFetch({
              url,
              method: 'POST',
              service: 'execute-api',
              region: clientSettings().region,
              headers,
              body,
            })
          : await fetch(url, { method: 'POST', headers, body });
      } catch (error) {
        throw new CliFailure(
          `no inference API answers at ${base} (${(error as Error).message})`,
          sign ? 'check the stack is deployed and your credentials' : 'start it with: npx mlops serve start',
          { cause: error },
        );
      }
      const text = await response.text();
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        throw new CliFailure(`the API answered ${response.status} with no JSON: ${text.slice(0, 300)}`);
      }
      if (!response.ok) {
        const error = (answer as Partial<ErrorBody>).error;
        if (ctx.out.json) ctx.out.result(answer, () => '');
        const where =
          error?.field ?? (error?.instance === undefined ? 'request' : `instance ${error.instance}`);
        io.stderr(
          `error: ${where}: ${error?.code ?? response.status} ${error?.message ?? text.slice(0, 300)}\n`,
        );
        setExitCode(program, exitOf(response.status));
        return;
      }
      ctx.out.result(answer as PredictResponse, (r) =>
        [
          `${r.model} version ${r.version} (variant ${r.variant}, request ${r.requestId})`,
          table(
            ['#', 'label', 'score', 'prediction', 'probabilities', 'feature ages (s)'],
            r.predictions.map((p, i) => [i, p.label, p.score, p.prediction, p.probabilities, p.featureAges]),
          ),
        ].join('\n'),
      );
    });
}
