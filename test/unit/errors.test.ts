import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { DependencyError, InternalError, MlopsError, ValidationError } from '../../lambdas/shared/errors.js';

describe('error types', () => {
  it('tells an internal failure apart from invalid input', () => {
    const error = new InternalError('ingestion lost rows: 3 + 1 != 5');
    expect(error).toBeInstanceOf(MlopsError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'InternalError', status: 500, code: 'INTERNAL' });
  });

  it('names the dependency that failed and keeps the cause', () => {
    const cause = new Error('ProvisionedThroughputExceededException');
    const error = new DependencyError('dynamodb', '12 keys still unprocessed after 9 attempts', { cause });
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      name: 'DependencyError',
      status: 502,
      code: 'DEPENDENCY_FAILED',
      dependency: 'dynamodb',
      message: 'dynamodb: 12 keys still unprocessed after 9 attempts',
      cause,
    });
  });

  it('keeps every error name through minification (Step Functions matches on it)', async () => {
    // Bundled without keepNames: the class names are mangled, the names set in the constructors are not.
    const { outputFiles } = await esbuild.build({
      stdin: {
        contents: `import * as errors from './errors.ts';
          export const names = Object.values(errors).filter((c) => typeof c === 'function' && c.prototype instanceof Error)
            .map((C) => { try { return new C('a', 'b', 'c', 'd'); } catch { return new C('a'); } })
            .map((e) => [e.constructor.name, e.name]);`,
        resolveDir: `${import.meta.dirname}/../../lambdas/shared`,
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      write: false,
    });
    const url = `data:text/javascript;base64,${Buffer.from(outputFiles[0]?.text ?? '').toString('base64')}`;
    const { names } = (await import(/* @vite-ignore */ url)) as { names: [string, string][] };
    const expected = [
      'MlopsError',
      'ValidationError',
      'NotFoundError',
      'ConflictError',
      'InternalError',
      'DependencyError',
      'ConfigurationError',
    ];
    expect(names.map(([, name]) => name)).toEqual(expect.arrayContaining(expected));
  });
});
