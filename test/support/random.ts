/** Small deterministic PRNG (mulberry32), so every seed reproduces: the runtime's own. */
export { mulberry32 as prng } from '../../lambdas/shared/random.js';
