/** Values the integration project's global setup provides to every test file (`inject(name)`). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the AWS API emulator the global setup started (or found in AWS_ENDPOINT_URL). */
    awsEndpoint: string;
    /** Cloud assembly of the real app, synthesized once by the global setup. */
    assemblyDir: string;
  }
}

export {};
