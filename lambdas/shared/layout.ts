/**
 * Where things live, in one place: S3 prefixes and keys, environment variable names, the item
 * shapes of the online store and the registry, and the entity-key rule. Constructs (lib/) and
 * runtime (lambdas/) both import it, so a prefix a function writes is the prefix its role may write
 * and the table the construct keys is the table the adapter reads. No SDK and no CDK behind it:
 * plain strings and functions.
 *
 * Change rule: these are stored data and deployed contracts. Renaming a prefix or an attribute
 * orphans what is already stored; add, and migrate, rather than rename.
 */

/** Top-level prefixes of the offline bucket (each ends with `/`). */
export const OFFLINE_PREFIX = {
  /** Batches producers land before asking for their ingestion; expire after a few days. */
  landing: 'landing/',
  /** Offline feature files: `features/<view>/date=YYYY-MM-DD/<batch>.parquet` (Glue tables read these). */
  features: 'features/',
  /** Rejected rows with their reasons: `quarantine/<view>/<batch>.jsonl`. */
  quarantine: 'quarantine/',
  /** Batch manifests: `ingestion/<view>/<batch>.json`. */
  ingestion: 'ingestion/',
  /** The ingestion log materialization lists from its watermark: `ingestion-log/<view>/<time>_<batch>`. */
  ingestionLog: 'ingestion-log/',
  /** Materialization state: `materialization/<view>/watermark.json` and `…/set-aside/<time>.jsonl`. */
  materialization: 'materialization/',
  /** Training sets: `datasets/<name>/<hash>/` with a manifest. */
  datasets: 'datasets/',
  /**
   * A batch's files between its claim and its commit: `staging/<view>/<batch>/date=D.parquet`,
   * outside `features/` so Athena and training sets never see a crashed or losing batch.
   */
  staging: 'staging/',
} as const;

/** Top-level prefixes of the artifact bucket. */
export const ARTIFACT_PREFIX = {
  /** Content-addressed model artifacts: `models/<model>/sha256/<digest>/<file>`, written once. */
  models: 'models/',
  /** Experiment-tracking run artifacts: `runs/<experiment>/<runId>/<file>`. */
  runs: 'runs/',
} as const;

/** The key pattern of everything under `prefix` (`features/` → `features/*`), as grants take it. */
export const keysUnder = (prefix: string): string => `${prefix}*`;

/** {@link keysUnder} of each offline prefix: `OFFLINE_KEYS.features` is `features/*`. */
export const OFFLINE_KEYS = Object.fromEntries(
  Object.entries(OFFLINE_PREFIX).map(([name, prefix]) => [name, keysUnder(prefix)]),
) as { readonly [name in keyof typeof OFFLINE_PREFIX]: string };

/** {@link keysUnder} of each artifact prefix: `ARTIFACT_KEYS.models` is `models/*`. */
export const ARTIFACT_KEYS = Object.fromEntries(
  Object.entries(ARTIFACT_PREFIX).map(([name, prefix]) => [name, keysUnder(prefix)]),
) as { readonly [name in keyof typeof ARTIFACT_PREFIX]: string };

/** The offline tables' partition column (Hive style: `date=YYYY-MM-DD`); no feature may take the name. */
export const OFFLINE_PARTITION_COLUMN = 'date';

/** Content type of the Parquet objects the project writes. */
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** Everything of one view in the offline store: `features/<view>/`. */
export const featureViewPrefix = (view: string): string => `${OFFLINE_PREFIX.features}${view}/`;

/** Where producers land batches of one view (`landing/<view>/<batchId>.<format>` starts an ingestion). */
export const landingViewPrefix = (view: string): string => `${OFFLINE_PREFIX.landing}${view}/`;

/** One date partition of a view: `features/<view>/date=YYYY-MM-DD/`. */
export const featurePartitionPrefix = (view: string, date: string): string =>
  `${featureViewPrefix(view)}${OFFLINE_PARTITION_COLUMN}=${date}/`;

/** The offline file of one batch in one date partition. */
export const featureFileKey = (view: string, date: string, batchId: string): string =>
  `${featurePartitionPrefix(view, date)}${batchId}.parquet`;

/** The rows of one batch that ingestion refused, with their reasons. */
export const quarantineKey = (view: string, batchId: string): string =>
  `${OFFLINE_PREFIX.quarantine}${view}/${batchId}.jsonl`;

/** The manifest of one ingested batch. */
export const ingestionManifestKey = (view: string, batchId: string): string =>
  `${OFFLINE_PREFIX.ingestion}${view}/${batchId}.json`;

/** The batch's claim, written before any of its files. */
export const ingestionClaimKey = (view: string, batchId: string): string =>
  `${OFFLINE_PREFIX.ingestion}${view}/${batchId}.claim.json`;

/** Where a batch's files wait, out of readers' sight, until its manifest commits it. */
export const stagingPrefix = (view: string, batchId: string): string =>
  `${OFFLINE_PREFIX.staging}${view}/${batchId}/`;

/** A staged file of one batch and date. */
export const stagedFileKey = (view: string, date: string, batchId: string): string =>
  `${stagingPrefix(view, batchId)}${OFFLINE_PARTITION_COLUMN}=${date}.parquet`;

/** A view's ingestion log (entries keyed by ingestion time, so key order is time order). */
export const ingestionLogPrefix = (view: string): string => `${OFFLINE_PREFIX.ingestionLog}${view}/`;

/** Where materialization keeps a view's watermark. */
export const watermarkKey = (view: string): string =>
  `${OFFLINE_PREFIX.materialization}${view}/watermark.json`;

/** Where materialization records what it set aside: `materialization/<view>/set-aside/<time>.jsonl`. */
export const setAsidePrefix = (view: string): string => `${OFFLINE_PREFIX.materialization}${view}/set-aside/`;

/** Where a training set and its manifest go: `datasets/<name>/<hash>/`. */
export const datasetPrefix = (name: string, hash: string): string =>
  `${OFFLINE_PREFIX.datasets}${name}/${hash}/`;

/** Prefix under which a model's artifacts live. */
export const artifactPrefix = (modelName: string): string => `${ARTIFACT_PREFIX.models}${modelName}/`;

/**
 * Content-addressed key of a model artifact: written once by a trainer before registration (when
 * the version number is not yet known) and never overwritten.
 */
export const artifactKey = (modelName: string, sha256: string, fileName = 'model.onnx'): string =>
  `${artifactPrefix(modelName)}sha256/${sha256}/${fileName}`;

/**
 * A version's model card (Markdown), rewritten at registration and on every stage or alias change:
 * `models/<model>/versions/<10 digits>/model-card.md` (the bucket is versioned, so every revision stays).
 */
export const modelCardKey = (modelName: string, version: number): string =>
  `${artifactPrefix(modelName)}versions/${String(version).padStart(10, '0')}/model-card.md`;

/** The key pattern of every model card (any model, any version), as grants take it. */
export const MODEL_CARD_KEYS = `${ARTIFACT_PREFIX.models}*/versions/*/model-card.md`;

/** Content type of the model cards. */
export const MODEL_CARD_CONTENT_TYPE = 'text/markdown; charset=utf-8';

/**
 * The SageMaker trainer's input channels for one execution: `<dataset prefix>channels/<runId>/<channel>/`
 * (train, validation and test as Parquet, `config` holding the encoding spec and model config).
 */
export const trainingChannelPrefix = (
  model: string,
  datasetHash: string,
  runId: string,
  channel: string,
): string => `${datasetPrefix(model, datasetHash)}channels/${runId}/${channel}/`;

/**
 * The naming convention of the alarms that retrain a model: `<stack>/<model>/retrain/<check>`
 * (e.g. `ServerlessMlops/churn/retrain/feature-psi`). The training pipeline's drift rule matches
 * the prefix for its model; the drift monitor names its drift and quality alarms with it. `/` cannot
 * occur in model names, so one model's prefix never matches another's.
 */
export const retrainingAlarmPrefix = (stackName: string, model: string): string =>
  `${stackName}/${model}/retrain/`;

export const retrainingAlarmName = (stackName: string, model: string, check: string): string =>
  `${retrainingAlarmPrefix(stackName, model)}${check}`;

/** Where a tracked run's artifacts go: `runs/<experiment>/<runId>/`. */
export const runArtifactPrefix = (experiment: string, runId: string): string =>
  `${ARTIFACT_PREFIX.runs}${experiment}/${runId}/`;

/**
 * A training execution run on the local stack (which runs state machines in the CLI's process, not
 * in Step Functions): its step history, status and output, as `mlops train start` records it
 * for `mlops train status|logs`. An artifact of the execution's run (experiment = the model).
 */
export const trainingExecutionRecordKey = (model: string, runId: string): string =>
  `${runArtifactPrefix(model, runId)}execution.json`;

/**
 * The one EventBridge `source` of every event the project emits (registry, training, canary, drift);
 * each kind is a `detail-type` in {@link EVENT_DETAIL_TYPE}.
 */
export const EVENT_SOURCE = 'serverless-mlops';

/** `detail-type` of each event the project emits. Add, don't rename: rules match these strings. */
export const EVENT_DETAIL_TYPE = {
  modelVersionRegistered: 'ModelVersionRegistered',
  modelStageChanged: 'ModelStageChanged',
  modelAliasChanged: 'ModelAliasChanged',
  trainingSucceeded: 'TrainingSucceeded',
  trainingRejected: 'TrainingRejected',
  trainingFailed: 'TrainingFailed',
  canaryStarted: 'CanaryStarted',
  canaryStepPassed: 'CanaryStepPassed',
  canaryPromoted: 'CanaryPromoted',
  canaryRolledBack: 'CanaryRolledBack',
} as const;

/**
 * Environment variables the constructs set and the functions read (`requireEnv(ENV.offlineBucket)`).
 * The names are the deployed functions' configuration: add, don't rename.
 */
export const ENV = {
  /** The table holding per-view materialization leases. */
  leaseTable: 'LEASE_TABLE',
  /** Powertools reads it: the CloudWatch namespace of every metric (configuration `metricsNamespace`). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** Name of the offline store bucket. */
  offlineBucket: 'OFFLINE_BUCKET',
  /** Name of the online store table. */
  onlineTable: 'ONLINE_TABLE',
  /** Name of the model registry table. */
  registryTable: 'REGISTRY_TABLE',
  /** Name of the model artifact bucket. */
  artifactBucket: 'ARTIFACT_BUCKET',
  /** Powertools' service name (logs, metrics). */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Name of the experiment-tracking table (experiments, runs, metric chunks). */
  trackingTable: 'TRACKING_TABLE',
  /** Name of the project's EventBridge bus. */
  eventBus: 'EVENT_BUS_NAME',
  /** JSON object: model name → its training state machine's ARN (the new-data trigger starts them). */
  trainingPipelines: 'TRAINING_PIPELINES',
  /** The stack's name (alarm names follow {@link retrainingAlarmName}). */
  stackName: 'MLOPS_STACK_NAME',
  /** Serving: the model one inference function serves. */
  modelName: 'MODEL_NAME',
  /**
   * Serving: the registry version this Lambda version is pinned to (a positive integer). Empty on
   * the version `cdk deploy` publishes: that one serves what the registry's `champion` alias names
   * when it starts. `pinModelVersion` (lambdas/serving/deploy.ts) sets it and publishes.
   */
  modelVersion: 'MODEL_VERSION',
  /** Serving: the Firehose delivery stream capturing predictions and feedback (empty: no capture). */
  captureStream: 'CAPTURE_STREAM',
  /** Serving: the share of requests captured, 0 to 1. */
  captureSampleRate: 'CAPTURE_SAMPLE_RATE',
  /** Deployment: the bucket capture lands in (absent: capture is off, predictions are not compared). */
  captureBucket: 'CAPTURE_BUCKET',
  /** Serving: most instances one request may carry. */
  maxBatchInstances: 'MAX_BATCH_INSTANCES',
  /** Serving: the Secrets Manager secret (ARN) whose key signs request ids (lambdas/serving/request-ids.ts). */
  requestSigningSecret: 'REQUEST_SIGNING_SECRET',
  /** JSON object: served model name → its deployment workflow's ARN (the experiment check starts them). */
  deploymentWorkflows: 'DEPLOYMENT_WORKFLOWS',
} as const;

/** The Lambda alias API Gateway invokes for each model: its weights are the canary's (issue 12). */
export const SERVING_ALIAS = 'live';

/**
 * The registry alias naming the version in production: the one a candidate must beat (training) and
 * the one an inference function serves when its Lambda version pins none (serving).
 */
export const CHAMPION_ALIAS = 'champion';

/** Routes of the inference API (API Gateway resource paths; the local adapter serves the same). */
export const API_ROUTES = {
  predict: '/v1/models/{model}/predict',
  feedback: '/v1/models/{model}/feedback',
  health: '/v1/health',
} as const;

/** Top-level prefixes of the capture bucket. */
export const CAPTURE_PREFIX = {
  /** Captured predictions and feedback (JSON lines): `capture/<model>/date=YYYY-MM-DD/hour=HH/…`. */
  capture: 'capture/',
  /** Records Firehose could not deliver: `capture-errors/<model>/<error type>/date=YYYY-MM-DD/…`. */
  errors: 'capture-errors/',
  /** Drift reports (JSON and HTML) and each model's latest-report pointer: see {@link driftReportKeys}. */
  reports: 'reports/',
} as const;

/** Everything captured for one model: `capture/<model>/`. */
export const capturePrefix = (model: string): string => `${CAPTURE_PREFIX.capture}${model}/`;

/** Firehose's S3 prefix for one model (its `!{timestamp:…}` expressions make the Hive partitions). */
export const captureFirehosePrefix = (model: string): string =>
  `${capturePrefix(model)}date=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`;

/** Firehose's S3 error-output prefix for one model. */
export const captureErrorFirehosePrefix = (model: string): string =>
  `${CAPTURE_PREFIX.errors}${model}/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/`;

/** The partition prefix a record captured at `timeMs` lands under (what Firehose renders, UTC). */
export const captureHourPrefix = (model: string, timeMs: number): string => {
  const iso = new Date(timeMs).toISOString();
  return `${capturePrefix(model)}date=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
};

/** Everything the drift checks stored for one model: `reports/<model>/`. */
export const driftReportPrefix = (model: string): string => `${CAPTURE_PREFIX.reports}${model}/`;

/**
 * A window end as it stands in a report key: `YYYYMMDDTHHMMSS.mmmZ` (UTC, no `:`; string order is
 * time order). Throws RangeError on a time Date cannot read.
 */
export const reportWindowKeyPart = (windowEnd: string): string =>
  new Date(windowEnd).toISOString().replace(/[-:]/g, '');

/**
 * Where a drift check stores the report of the window ending at `windowEnd` (ISO time), in the
 * capture bucket: `reports/<model>/<YYYY-MM-DD>/<window end>/report.json` and `report.html` beside
 * it (the date is the window end's, UTC). Key order under a model's prefix is window order.
 */
export const driftReportKeys = (
  model: string,
  windowEnd: string,
): { readonly prefix: string; readonly json: string; readonly html: string } => {
  const part = reportWindowKeyPart(windowEnd);
  const day = `${part.slice(0, 4)}-${part.slice(4, 6)}-${part.slice(6, 8)}`;
  const prefix = `${driftReportPrefix(model)}${day}/${part}/`;
  return { prefix, json: `${prefix}report.json`, html: `${prefix}report.html` };
};

/**
 * How the latest report of a model is found: one object, `reports/<model>/latest.json`, holding a
 * {@link DriftReportPointer}, which the check writes LAST, after both report objects (so it never
 * names a report that is not there yet). Readers (`mlops drift report`) get it, then the keys it names.
 * A check of an older window (a re-run) does not move it back: the check only writes it when its
 * window ends no earlier than the pointer's.
 */
export const driftReportLatestKey = (model: string): string => `${driftReportPrefix(model)}latest.json`;

/** The body of {@link driftReportLatestKey}: the keys of the newest report and its window. */
export interface DriftReportPointer {
  readonly json: string;
  readonly html: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly generatedAt: string;
}

/** Content type of the stored HTML reports. */
export const DRIFT_REPORT_HTML_CONTENT_TYPE = 'text/html; charset=utf-8';

/** Variables the `mlops` CLI reads to skip the stack lookup. */
export const CLI_ENV = {
  offlineBucket: 'MLOPS_OFFLINE_BUCKET',
  onlineTable: 'MLOPS_ONLINE_TABLE',
  registryTable: 'MLOPS_REGISTRY_TABLE',
  artifactBucket: 'MLOPS_ARTIFACT_BUCKET',
  trackingTable: 'MLOPS_TRACKING_TABLE',
  /** The capture bucket (`mlops drift report`). */
  captureBucket: 'MLOPS_CAPTURE_BUCKET',
} as const;

/** The esbuild `define` identifier that carries the validated feature views into the bundles. */
export const FEATURE_VIEWS_DEFINE = '__MLOPS_FEATURE_VIEWS__';

/** The esbuild `define` identifier that carries the configuration's models (promotion gates) into the registry bundles. */
export const MODELS_DEFINE = '__MLOPS_MODELS__';

/** The esbuild `define` identifier that carries the trained models' whole configuration into the training pipeline's bundles. */
export const TRAINED_MODELS_DEFINE = '__MLOPS_TRAINED_MODELS__';

/**
 * The online store item: one per view and entity. `ttl` holds epoch seconds for DynamoDB's TTL
 * (reads enforce expiry themselves; DynamoDB deletes only eventually).
 */
export const ONLINE_ITEM = {
  /** Partition key (string): {@link onlineKey}. */
  partitionKey: 'pk',
  /** The view's name. */
  view: 'view',
  /** Map of feature name to latest value. */
  features: 'features',
  /** Event time of the values (epoch ms). */
  eventTime: 'eventTimeMs',
  /** When the values were ingested (epoch ms); breaks ties between equal event times. */
  ingestedAt: 'ingestedAtMs',
  /** TTL attribute (epoch seconds). */
  ttl: 'expiresAt',
} as const;

/** Most characters in one string entity key value (ingestion refuses longer ones). */
export const MAX_ENTITY_KEY_CHARS = 1024;

/** Most UTF-8 bytes DynamoDB takes in a partition key value. */
export const MAX_PARTITION_KEY_BYTES = 2048;

/**
 * The online store partition key of an entity: `<view>#<JSON array of the entity key values>`, in
 * the order the view declares its entities.
 */
export const onlineKey = (view: string, entityKey: readonly (string | number)[]): string =>
  `${view}#${JSON.stringify(entityKey)}`;

/** The registry table item keys: `pk` = `MODEL#<name>`, `sk` = `MODEL` (head), `VERSION#…` or `TOKEN#…`. */
export const REGISTRY_ITEM = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /**
   * On a version item: the stage-history entry of its latest stage change, written in the same
   * update that moves the stage, so the table's stream record of that change carries who, why and
   * the gate results (the registry-events consumer reads it from the new image).
   */
  lastStageChange: 'lastStageChange',
} as const;

/** Registry partition key of a model. */
export const modelPk = (name: string): string => `MODEL#${name}`;
/** Registry sort key of a model's head item (latest version). */
export const MODEL_HEAD_SK = 'MODEL';
/** Prefix of every version's registry sort key (a Query with `begins_with` lists versions). */
export const VERSION_SK_PREFIX = 'VERSION#';
/** Registry sort key of a version (zero-padded, so key order is version order). */
export const versionSk = (version: number): string =>
  `${VERSION_SK_PREFIX}${String(version).padStart(10, '0')}`;
/** Registry sort key of an idempotency record. */
export const tokenSk = (token: string): string => `TOKEN#${token}`;
/** Prefix of a version's stage-history entries (a Query with `begins_with` reads them in order). */
export const stageHistorySkPrefix = (version: number): string =>
  `HISTORY#${String(version).padStart(10, '0')}#`;
/** Registry sort key of one stage-history entry of a version. */
export const stageHistorySk = (version: number, sequence: number): string =>
  `${stageHistorySkPrefix(version)}${String(sequence).padStart(10, '0')}`;
/** Prefix of every alias item's sort key (`ALIASHIST#…` entries do not start with it). */
export const ALIAS_SK_PREFIX = 'ALIAS#';
/** Registry sort key of an alias (which version it points at). */
export const aliasSk = (alias: string): string => `${ALIAS_SK_PREFIX}${alias}`;
/** Prefix of every alias-history entry of a model (a Query with `begins_with` reads all aliases' moves). */
export const ALIAS_HISTORY_SK_PREFIX = 'ALIASHIST#';
/** Prefix of an alias's history entries. */
export const aliasHistorySkPrefix = (alias: string): string => `${ALIAS_HISTORY_SK_PREFIX}${alias}#`;
/** Registry sort key of one alias-history entry. */
export const aliasHistorySk = (alias: string, sequence: number): string =>
  `${aliasHistorySkPrefix(alias)}${String(sequence).padStart(10, '0')}`;
/**
 * Registry sort key of a model's newest deployment (lambdas/deployment/deployment-store.ts): its
 * record and the per-model deployment lock.
 */
export const DEPLOYMENT_SK = 'DEPLOYMENT';
/** Prefix of every deployment-history entry of a model (`DEPLOYMENT` does not start with it). */
export const DEPLOYMENT_HISTORY_SK_PREFIX = 'DEPLOY#';
/** Prefix of one deployment's history entries (a Query with `begins_with` reads them in order). */
export const deploymentHistorySkPrefix = (deploymentId: string): string =>
  `${DEPLOYMENT_HISTORY_SK_PREFIX}${deploymentId}#`;
/** Registry sort key of one deployment-history entry (`sequence`: see deploymentEventSequence). */
export const deploymentHistorySk = (deploymentId: string, sequence: number): string =>
  `${deploymentHistorySkPrefix(deploymentId)}${String(sequence).padStart(10, '0')}`;

/*
 * A/B experiments (lambdas/experiments/experiment-store.ts), in the registry table:
 *   pk = ABTEST#<id>    sk = DEFINITION          the experiment's definition and status
 *   pk = ABTEST#<id>    sk = COUNTER#<variant>   per-variant counters (DynamoDB ADD)
 *   pk = ABTEST#<id>    sk = OUTCOME#<key>       one per counted outcome (idempotency)
 *   pk = MODEL#<model>  sk = ABTEST#<id>         the model's index of its experiments (id, status)
 *   pk = MODEL#<model>  sk = ABSLOT#<unitKey>    which running experiments hold the unit key (overlap lock)
 */
/** Registry partition key of one A/B experiment. */
export const experimentPk = (id: string): string => `ABTEST#${id}`;
/** Sort key of an experiment's definition. */
export const EXPERIMENT_DEFINITION_SK = 'DEFINITION';
/** Prefix of an experiment's counter items. */
export const EXPERIMENT_COUNTER_SK_PREFIX = 'COUNTER#';
/** Sort key of one variant's counters. */
export const experimentCounterSk = (variant: string): string => `${EXPERIMENT_COUNTER_SK_PREFIX}${variant}`;
/** Sort key of a counted outcome's idempotency item. */
export const experimentOutcomeSk = (idempotencyKey: string): string => `OUTCOME#${idempotencyKey}`;
/** Prefix of a model's experiment index items (none starts with `VERSION#` or `ALIAS#`). */
export const EXPERIMENT_INDEX_SK_PREFIX = 'ABTEST#';
/** Sort key of an experiment's index item in its model's partition. */
export const experimentIndexSk = (id: string): string => `${EXPERIMENT_INDEX_SK_PREFIX}${id}`;
/** Sort key of the overlap lock of one unit key of a model. */
export const experimentSlotSk = (unitKey: string): string => `ABSLOT#${unitKey}`;

/*
 * Search indexes of the registry (see registry-store.ts's header for the whole table design). Each
 * is an item in the model's own partition, written in the same transaction as the change it
 * indexes, so a consistent Query of it never disagrees with a get. None of their sort keys starts
 * with `VERSION#` or `ALIAS#` (stream consumers key on those prefixes).
 */

/** Zero-padded version number as it ends every version-ordered key (key order is version order). */
const paddedVersion = (version: number): string => String(version).padStart(10, '0');

/** Head attribute: the search-index format every version of the model carries (absent: not indexed). */
export const SEARCH_INDEX_ATTRIBUTE = 'searchIndex';
/** The search-index format this code writes. */
export const SEARCH_INDEX_FORMAT = 1;

/** Partition of the model catalog: one item per model, so listing models is one Query. */
export const CATALOG_PK = 'CATALOG';
/** Catalog sort key of a model (key order is name order). */
export const catalogSk = (modelName: string): string => `MODEL#${modelName}`;
/** Prefix of every catalog sort key. */
export const CATALOG_SK_PREFIX = 'MODEL#';

/** Prefix of the stage index of one stage: `STAGE#<stage>#`, then the version. */
export const stageIndexPrefix = (stage: string): string => `STAGE#${stage}#`;
/** Stage index item of a version: `STAGE#<stage>#<10 digits>` (moved by every stage transition). */
export const stageIndexSk = (stage: string, version: number): string =>
  `${stageIndexPrefix(stage)}${paddedVersion(version)}`;

/**
 * A tag value as it stands in a key: `%` and `#` percent-escaped, so a value holding `#` cannot
 * make one value's prefix match another value's items (tag keys hold neither `#` nor `=`).
 */
export const escapeKeyPart = (value: string): string => value.replace(/%/g, '%25').replace(/#/g, '%23');

/** Prefix of the tag index of one tag key and value: `TAG#<key>=<escaped value>#`, then the version. */
export const tagIndexPrefix = (key: string, value: string): string => `TAG#${key}=${escapeKeyPart(value)}#`;
/** Tag index item of a version. */
export const tagIndexSk = (key: string, value: string, version: number): string =>
  `${tagIndexPrefix(key, value)}${paddedVersion(version)}`;

/** Prefix of the index of one metric: `METRIC#<name>#`, then the sortable value, `#`, the version. */
export const metricIndexPrefix = (name: string): string => `METRIC#${name}#`;
/** Metric index item of a version: key order is the metric's numeric order, then version order. */
export const metricIndexSk = (name: string, value: number, version: number): string =>
  `${metricIndexPrefix(name)}${sortableNumber(value)}#${paddedVersion(version)}`;

/**
 * Sort-key bounds of every metric index item holding `value` (whatever its version): `below` sorts
 * before all of them and after every smaller value's; `above` ('$' follows '#' and precedes every
 * hex digit) sorts after all of them and before every larger value's.
 */
export const metricValueBounds = (name: string, value: number): { below: string; above: string } => {
  const at = `${metricIndexPrefix(name)}${sortableNumber(value)}`;
  return { below: at, above: `${at}$` };
};

/** A sort key after every index key under `prefix` (those continue with digits, hex and `#`). */
export const afterIndexPrefix = (prefix: string): string => `${prefix}~`;

/**
 * A float64 as 16 hex digits whose string order is the numbers' order: the IEEE 754 bits, big
 * endian, with the sign bit flipped for positives and every bit flipped for negatives (so more
 * negative numbers, which have larger magnitudes, sort first). -0 is written as +0 (they are equal).
 * Only finite numbers are indexed (the registry refuses NaN and infinities).
 */
export const sortableNumber = (value: number): string => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value === 0 ? 0 : value);
  let bits = view.getBigUint64(0);
  bits = bits >> 63n === 1n ? ~bits & 0xffff_ffff_ffff_ffffn : bits | (1n << 63n);
  return bits.toString(16).padStart(16, '0');
};

/** The number {@link sortableNumber} wrote. */
export const numberFromSortable = (encoded: string): number => {
  let bits = BigInt(`0x${encoded}`);
  bits = bits >> 63n === 1n ? bits & ~(1n << 63n) : ~bits & 0xffff_ffff_ffff_ffffn;
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
};
/*
 * The experiment-tracking table (lambdas/registry/tracking-store.ts has the whole design):
 *   pk = EXPERIMENTS     sk = <experiment>                 one item per experiment (listing = one Query)
 *   pk = RUN#<runId>     sk = RUN                          the run: status, params, tags, metric summaries
 *   pk = RUN#<runId>     sk = METRIC#<key>                 per metric: latest/min/max, chunk bookkeeping
 *   pk = RUN#<runId>     sk = CHUNK#<key>#<10 digits>      up to TRACKING_CHUNK_POINTS points of one metric
 *   pk = RUN#<runId>     sk = BATCH#<batchId>              a logged batch (a retried batch is not re-applied)
 * Indexes: runs by experiment (newest first), runs by experiment and status, metric items by
 * experiment, metric and latest value. Metric keys hold no `#` (the key rule refuses it).
 */

/** The tracking table's key attributes and its indexes' names and key attributes. */
export const TRACKING_ITEM = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Index of runs by experiment: `runsByExperiment` (pk `EXP#<experiment>`, sk `<startTime>#<runId>`). */
  experimentIndex: 'runsByExperiment',
  experimentKey: 'expKey',
  startKey: 'startKey',
  /** Index of runs by experiment and status (pk `EXP#<experiment>#<status>`, sk as above). */
  statusIndex: 'runsByStatus',
  statusKey: 'statusKey',
  /** Index of metric items by latest value (pk `EXP#<experiment>#METRIC#<key>`, sk `<sortable>#<runId>`). */
  metricIndex: 'runsByMetric',
  metricKey: 'metricKey',
  metricSort: 'metricSort',
} as const;

/**
 * Training state per model, in the tracking table (partition `TRAINING#<model>`):
 *   sk = LEASE                               the one running execution (holder, expiresAtMs)
 *   sk = RESULT#<datasetHash>#<fingerprint>  what an execution concluded (reused by duplicates)
 *   sk = NEWDATA                             rows ingested for the model's views since its last training
 */
export const trainingPk = (model: string): string => `TRAINING#${model}`;
export const TRAINING_LEASE_SK = 'LEASE';
export const trainingResultSk = (datasetHash: string, fingerprint: string): string =>
  `RESULT#${datasetHash}#${fingerprint}`;
export const TRAINING_NEW_DATA_SK = 'NEWDATA';
/**
 * Marker of one ingested batch counted toward a model's new-data trigger (`NEWDATA#BATCH#<manifest
 * key>`): written once with the count, so a redelivered event for the batch is not counted again.
 */
export const trainingNewDataBatchSk = (manifestKey: string): string => `NEWDATA#BATCH#${manifestKey}`;

/** Partition holding one item per experiment. */
export const EXPERIMENTS_PK = 'EXPERIMENTS';
/** Partition of one run (its item, metric items, chunks, batch records). */
export const runPk = (runId: string): string => `RUN#${runId}`;
/** Sort key of a run's own item. */
export const RUN_SK = 'RUN';
/** Sort key of a run's summary item of one metric. */
export const runMetricSk = (key: string): string => `METRIC#${key}`;
/** Prefix of a run's metric summary items. */
export const RUN_METRIC_SK_PREFIX = 'METRIC#';
/** Prefix of the chunks of one metric (a Query with `begins_with` reads them in chunk order). */
export const metricChunkSkPrefix = (key: string): string => `CHUNK#${key}#`;
/** Sort key of one chunk of a metric. */
export const metricChunkSk = (key: string, chunk: number): string =>
  `${metricChunkSkPrefix(key)}${String(chunk).padStart(10, '0')}`;
/** Sort key of the record of one logged metric batch. */
export const metricBatchSk = (batchId: string): string => `BATCH#${batchId}`;
/** Index partition of an experiment's runs. */
export const experimentRunsKey = (experiment: string): string => `EXP#${experiment}`;
/** Index partition of an experiment's runs in one status. */
export const experimentStatusKey = (experiment: string, status: string): string =>
  `EXP#${experiment}#${status}`;
/** Index sort key of a run: its start time, then its id (key order is start order). */
export const runStartKey = (startTime: string, runId: string): string => `${startTime}#${runId}`;
/** Index partition of one metric's latest values across an experiment's runs. */
export const experimentMetricKey = (experiment: string, key: string): string =>
  `EXP#${experiment}#METRIC#${key}`;
/** Index sort key of a run's latest value of a metric (key order is numeric order). */
export const metricSortKey = (value: number, runId: string): string => `${sortableNumber(value)}#${runId}`;
/** The version number a version item's sort key holds (`VERSION#0000000012` → 12); undefined for other keys. */
export const versionOfSk = (sk: string): number | undefined =>
  sk.startsWith(VERSION_SK_PREFIX) ? Number(sk.slice(VERSION_SK_PREFIX.length)) : undefined;
/** The alias an alias item's sort key names (`ALIAS#champion` → champion); undefined for other keys. */
export const aliasOfSk = (sk: string): string | undefined =>
  sk.startsWith(ALIAS_SK_PREFIX) ? sk.slice(ALIAS_SK_PREFIX.length) : undefined;
/**
 * The deployment and sequence a deployment-history sort key names (`DEPLOY#d-1#0000000003` →
 * d-1, 3); undefined for other keys (`DEPLOYMENT` included).
 */
export const deploymentOfSk = (sk: string): { deploymentId: string; sequence: number } | undefined => {
  if (!sk.startsWith(DEPLOYMENT_HISTORY_SK_PREFIX)) return undefined;
  const match = /^(.+)#(\d{10})$/.exec(sk.slice(DEPLOYMENT_HISTORY_SK_PREFIX.length));
  return match === null ? undefined : { deploymentId: match[1] as string, sequence: Number(match[2]) };
};
/** The model name a registry partition key holds (`MODEL#churn` → churn). */
export const modelOfPk = (pk: string): string => pk.slice(modelPk('').length);
