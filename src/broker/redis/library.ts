/**
 * Herald's Redis Function library (herald.lua beside this file): its source,
 * its versioned names, and loading it.
 *
 * The version is part of the library's and every function's name; bump it
 * whenever herald.lua changes in a way older nodes would not understand, so
 * that a rolling update runs old and new nodes side by side, each calling its
 * own functions.
 */
import { readFileSync } from 'node:fs';

export const LIBRARY_VERSION = 1;
export const LIBRARY_NAME = `herald_${LIBRARY_VERSION}`;

/** Function names as registered by herald.lua. */
export const FUNCTIONS = Object.freeze({
  publish: `${LIBRARY_NAME}_publish`,
  historyPublish: `${LIBRARY_NAME}_history_publish`,
  read: `${LIBRARY_NAME}_read`,
  presence: `${LIBRARY_NAME}_presence`,
  presenceRead: `${LIBRARY_NAME}_presence_read`,
});

export const LIBRARY_SOURCE = readFileSync(new URL('./herald.lua', import.meta.url), 'utf8');

if (!LIBRARY_SOURCE.startsWith(`#!lua name=${LIBRARY_NAME}\n`)) {
  throw new Error(`herald.lua does not declare library ${LIBRARY_NAME}: update LIBRARY_VERSION and the file together`);
}

/** Anything that can send a raw command: an ioredis connection. */
export interface CommandSender {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/** Redis answered that it does not know FUNCTION: a server older than 7.0. */
export class RedisTooOldError extends Error {
  constructor(cause: unknown) {
    super('Redis 7.0 or newer is required (FUNCTION LOAD is unknown to this server)', { cause });
    this.name = 'RedisTooOldError';
  }
}

/** Loads (or replaces with the same code) the library on one Redis server. */
export async function loadLibrary(client: CommandSender): Promise<void> {
  try {
    await client.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE);
  } catch (error) {
    if (/unknown command|unknown subcommand/i.test((error as Error).message)) throw new RedisTooOldError(error);
    throw error;
  }
}

/** Whether a command failed because the server lost the library (a restart without persistence). */
export function isFunctionMissing(error: unknown): boolean {
  return /function not found/i.test((error as Error | undefined)?.message ?? '');
}
