/**
 * Starting a served model's deployment workflow (lib/deployment-workflow.ts) on Step Functions under
 * a given execution name: the experiment check's {@link DeploymentStarter}. A name already used
 * (ExecutionAlreadyExists) means the deployment was started before: `existed`, not an error.
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { DeploymentRequest } from '../deployment/contract.js';
import { ConfigurationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import type { DeploymentStarter } from './experiment-check.js';

export class StepFunctionsDeploymentStarter implements DeploymentStarter {
  constructor(
    private readonly client: SFNClient,
    /** Model name → its deployment state machine's ARN. */
    private readonly workflows: Readonly<Record<string, string>>,
  ) {}

  async start(
    model: string,
    executionName: string,
    request: DeploymentRequest,
  ): Promise<{ existed: boolean; executionArn?: string }> {
    const stateMachineArn = this.workflows[model];
    if (stateMachineArn === undefined)
      throw new ConfigurationError(`no deployment workflow is configured for model ${model}`);
    try {
      const started = await this.client.send(
        new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(request) }),
      );
      return { existed: false, ...(started.executionArn ? { executionArn: started.executionArn } : {}) };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists')
        return { existed: true };
      throw error;
    }
  }
}

/** `ENV.deploymentWorkflows` (JSON object: model → state machine ARN), checked. */
export function parseDeploymentWorkflows(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.values(parsed).some((arn) => typeof arn !== 'string')
  )
    throw new ConfigurationError(
      `${ENV.deploymentWorkflows} must be a JSON object of model name to state machine ARN`,
    );
  return parsed as Record<string, string>;
}
