/** Values the global setups provide to test files (`inject(name)`). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the AWS API emulator the global setup started (or found in AWS_ENDPOINT_URL). */
    awsEndpoint: string;
    /** Cloud assembly of the real app, synthesized once by the global setup. */
    assemblyDir: string;
    /** Where test/support/assemblies.ts keeps this run's shared assemblies (infra and integration). */
    assemblyCache: string;
  }
}

export {};
