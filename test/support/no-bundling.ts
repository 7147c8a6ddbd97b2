/**
 * Context that makes synthesis skip bundling (CDK's `aws:cdk:bundling-stacks`, what `cdk synth
 * --exclusively` narrows): for tests that read templates, not bundles. Bundling every function
 * takes a dozen seconds of esbuild, during which the test worker answers nobody.
 */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;
