import { Logger } from '@aws-lambda-powertools/logger';

/** The project's structured logger; the service name comes from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'serverless-mlops' });
