import { describe, expect, it } from 'vitest';
import { configOverrides, start } from '../../bin/start.js';
import { resolveConfig } from '../../lib/project-config.js';

describe('npm start --capture-sample-rate', () => {
  it('overrides serving.captureSampleRate and nothing else of the configuration', () => {
    const base = resolveConfig();
    const overridden = resolveConfig(configOverrides({ captureSampleRate: 0 }));
    expect(base.serving.captureSampleRate).not.toBe(0);
    expect(overridden.serving).toEqual({ ...base.serving, captureSampleRate: 0 });
    expect({ ...overridden, serving: base.serving }).toEqual(base);
  });

  it('overrides nothing when not given', () => {
    expect(configOverrides({})).toEqual({});
  });

  it('refuses it with a prebuilt --assembly, which was synthesized without it', async () => {
    const lines: string[] = [];
    const code = await start(
      {
        once: true,
        port: 0,
        host: '127.0.0.1',
        customers: 200,
        seed: 7,
        assembly: '/nonexistent',
        captureSampleRate: 0,
      },
      (l) => lines.push(l),
    );
    expect(code).toBe(1);
    expect(lines.join('\n')).toMatch(/--capture-sample-rate and --scenario need a fresh synthesis/);
  });
});
