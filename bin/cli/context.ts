/**
 * What every command reads: the global options, the validated configuration, its feature views
 * (an unknown view name lists the valid ones), and the stores the commands talk to.
 */
import type { Command } from 'commander';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { ModelAliasReader } from '../../lambdas/registry/alias-reader.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore, type StagingStore } from '../../lambdas/shared/object-store.js';
import type { MlopsConfig } from '../../lib/config.js';
import { importConfigFile, resolveConfig } from '../../lib/project-config.js';
import { useLocalStack } from '../../local/local-state.js';
import { CliInputError, type CliIo, noteTable, Output } from './output.js';
import { cliPrincipal } from './principal.js';
import { type ResourceOptions, resourceName } from './resources.js';

export interface GlobalOptions extends ResourceOptions {
  readonly config?: string;
  readonly json?: boolean;
  readonly table?: boolean;
}

export class CliContext {
  private constructor(
    readonly options: GlobalOptions,
    readonly config: MlopsConfig,
    readonly views: ReadonlyMap<string, FeatureView>,
    readonly out: Output,
  ) {}

  static async load(program: Command, io: CliIo): Promise<CliContext> {
    const options = program.opts<GlobalOptions>();
    const config = options.config
      ? resolveConfig({}, await importConfigFile(options.config))
      : resolveConfig();
    const views = new Map(config.featureViews.map((input) => [input.name, defineFeatureView(input)]));
    // A local stack of this name (`mlops local up`) points the clients at its emulator; before any
    // client is built, since clients are built once.
    await useLocalStack(options.stack ?? config.stackName);
    return new CliContext(options, config, views, new Output(io, jsonOutput(options, io)));
  }

  /** A configured view, or bad input that lists the valid names. */
  view(name: string, field = 'view'): FeatureView {
    const view = this.views.get(name);
    if (view !== undefined) return view;
    const names = [...this.views.keys()];
    throw new CliInputError(
      field,
      `must be a defined feature view (${name} is not)`,
      names.length > 0
        ? `valid views: ${names.join(', ')}`
        : 'the configuration defines no feature views (mlops.config.ts)',
    );
  }

  async offlineStore(): Promise<StagingStore> {
    return new S3ObjectStore(
      clients.s3(),
      await resourceName(this.options, this.config.stackName, 'offlineBucket'),
    );
  }

  async onlineTableName(): Promise<string> {
    return this.tableName('onlineTable', 'online-table');
  }

  /** A table's name (flag, local stack or stack output), noted for error messages ({@link noteTable}). */
  private async tableName(
    key: 'onlineTable' | 'registryTable' | 'trackingTable',
    flag: string,
  ): Promise<string> {
    const name = await resourceName(this.options, this.config.stackName, key);
    noteTable(this.out.io, flag, name);
    return name;
  }

  async trackingStore(): Promise<TrackingStore> {
    return new TrackingStore({
      documents: clients.documents(),
      s3: clients.s3(),
      tableName: await this.tableName('trackingTable', 'tracking-table'),
    });
  }

  async onlineStore(): Promise<OnlineStore> {
    return new OnlineStore(clients.documents(), await this.onlineTableName());
  }

  /** The registry table (flag, local stack or stack output `registryTable`). */
  async registryTableName(): Promise<string> {
    return this.tableName('registryTable', 'registry-table');
  }

  /** The artifact bucket (flag, local stack or stack output `artifactBucket`). */
  async artifactBucketName(): Promise<string> {
    return resourceName(this.options, this.config.stackName, 'artifactBucket');
  }

  private principalOnce: Promise<string> | undefined;
  /** Who this run records as `by` (./principal.ts): the caller's IAM ARN, or `local`. */
  principal(): Promise<string> {
    this.principalOnce ??= cliPrincipal(process.env, clients.sts);
    return this.principalOnce;
  }

  /** The registry for reads (versions, search, catalog): no principal needed, so no STS call. */
  async registry(): Promise<ModelRegistryStore> {
    return new ModelRegistryStore({
      documents: clients.documents(),
      s3: clients.s3(),
      tableName: await this.registryTableName(),
      artifactBucket: await this.artifactBucketName(),
    });
  }

  /** Stage transitions, gated by the configuration's models, recorded as this run's principal. */
  async stages(): Promise<ModelStageStore> {
    return new ModelStageStore({
      documents: clients.documents(),
      tableName: await this.registryTableName(),
      principal: await this.principal(),
      models: this.config.models,
    });
  }

  /** Alias moves, recorded as this run's principal. */
  async aliases(): Promise<ModelAliasStore> {
    return new ModelAliasStore({
      documents: clients.documents(),
      tableName: await this.registryTableName(),
      principal: await this.principal(),
    });
  }

  async aliasReader(): Promise<ModelAliasReader> {
    return new ModelAliasReader({
      documents: clients.documents(),
      tableName: await this.registryTableName(),
    });
  }
}

/** JSON when asked (`--json`) or when stdout is not a terminal, unless `--table` is asked. */
export function jsonOutput(options: Pick<GlobalOptions, 'json' | 'table'>, io: CliIo): boolean {
  if (options.json) return true;
  if (options.table) return false;
  return io.stdoutIsTty !== true;
}
