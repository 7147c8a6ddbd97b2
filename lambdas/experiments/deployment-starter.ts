/**
 * Starting a served model's deployment workflow (lib/deployment-workflow.ts) on Step Functions under
 * a given execution name: the experiment check's {@link DeploymentStarter}. A name already used
 * (ExecutionAlreadyExists) means the deployment was started before: `existed`, not an error.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DeploymentRequest } from '../deployment/contract.js';
import { ConfigurationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { parseStateMachineArns, startExecutionOnce } from '../shared/state-machines.js';
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
    return startExecutionOnce(this.client, { stateMachineArn, name: executionName, input: request });
  }
}

/** `ENV.deploymentWorkflows` (JSON object: model → state machine ARN), checked. */
export function parseDeploymentWorkflows(text: string): Record<string, string> {
  return parseStateMachineArns(text, ENV.deploymentWorkflows);
}
