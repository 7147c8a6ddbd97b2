/** EventBridge clients with the project's settings (see `./settings.ts`). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds an EventBridge client with the project's settings. */
export function createEventBridgeClient(settings: ClientSettings = clientSettings()): EventBridgeClient {
  return new EventBridgeClient(baseConfig(settings));
}

/** The process-wide EventBridge client. */
export const eventBridgeClient = (): EventBridgeClient =>
  memo('eventbridge', () => createEventBridgeClient());
