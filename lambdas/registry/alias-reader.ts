/**
 * Get-by-alias in one round trip when it can be: a read path for the Lambdas that resolve
 * `champion`/`challenger` on every call.
 *
 * The alias store keeps an invariant in each of its transactions: a version item's `aliases` set
 * holds `a` exactly when the alias item `ALIAS#a` points at that version (alias-store.ts). So one
 * strongly consistent GetItem of the version an alias pointed at last time answers the question:
 * if that version still carries the alias, the alias still points there (at the moment of the
 * read: linearizable, as a read of the alias item would be). Only when the alias has moved (or on
 * the first read) does the reader read the alias item and then the version (two round trips),
 * re-checking the set in case the alias moved in between.
 *
 * The guesses live in the reader (one per Lambda cold start or CLI run), bounded in size; a wrong
 * guess costs a round trip, never a wrong answer.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ContentionError, NotFoundError, ValidationError } from '../shared/errors.js';
import { aliasSk, modelPk, versionSk } from '../shared/layout.js';
import { ALIAS_PATTERN } from './alias-store.js';
import { type ModelVersion, parseModelName, versionFromItem } from './model-version.js';

export interface ModelAliasReaderProps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Aliases whose last version is remembered. @default 1000 */
  readonly maxGuesses?: number;
  /** Alias moves tolerated between reading the alias and its version. @default 5 */
  readonly maxAttempts?: number;
}

/** Validates an alias name (the alias store's naming rule). */
export function parseAliasName(input: unknown, field = 'alias'): string {
  if (typeof input !== 'string' || !ALIAS_PATTERN.test(input))
    throw new ValidationError(field, 'must be 1-63 of a-z 0-9 - _, starting with a letter');
  return input;
}

export class ModelAliasReader {
  private readonly guesses = new Map<string, number>();
  private readonly maxGuesses: number;
  private readonly maxAttempts: number;

  constructor(private readonly props: ModelAliasReaderProps) {
    this.maxGuesses = props.maxGuesses ?? 1000;
    this.maxAttempts = props.maxAttempts ?? 5;
  }

  /** The version `alias` points at; NotFoundError when the alias is not set (or the model unknown). */
  async get(modelName: unknown, alias: unknown): Promise<ModelVersion> {
    const name = parseModelName(modelName);
    const aliasName = parseAliasName(alias);
    const key = `${name}/${aliasName}`;
    const guess = this.guesses.get(key);
    if (guess !== undefined) {
      const item = await this.read(name, versionSk(guess));
      if (carries(item, aliasName)) return versionFromItem(item as Record<string, unknown>);
      this.guesses.delete(key);
    }
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const pointer = await this.read(name, aliasSk(aliasName));
      const version = pointer?.version;
      if (typeof version !== 'number') throw new NotFoundError(`alias ${aliasName} of model ${name}`);
      const item = await this.read(name, versionSk(version));
      if (carries(item, aliasName)) {
        if (this.guesses.size >= this.maxGuesses) this.guesses.clear();
        this.guesses.set(key, version);
        return versionFromItem(item as Record<string, unknown>);
      }
      // The alias moved between the two reads: read it again.
    }
    throw new ContentionError(`alias ${aliasName} of ${name} kept moving while it was read`);
  }

  private async read(name: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: modelPk(name), sk },
        ConsistentRead: true,
      }),
    );
    return result.Item;
  }
}

function carries(item: Record<string, unknown> | undefined, alias: string): boolean {
  const aliases = item?.aliases;
  return aliases instanceof Set && aliases.has(alias);
}
