/** The Helm chart's files, its values as Helm merges them, and its schema as a validator. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { ROOT } from './tools.js';

export const CHART = join(ROOT, 'helm/herald');
export const EXAMPLES_DIR = join(ROOT, 'helm/examples');

export type Values = Record<string, unknown>;

export const readText = (path: string): string => readFileSync(path, 'utf8');
export const chartValues = (): Values => parse(readText(join(CHART, 'values.yaml'))) as Values;
export const chartSchema = (): Record<string, unknown> => JSON.parse(readText(join(CHART, 'values.schema.json'))) as Record<string, unknown>;

/** The example override files: helm/examples/*.yaml. */
export function exampleFiles(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => join(EXAMPLES_DIR, name));
}

/** Every file under templates/. */
export function templateFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
  return walk(join(CHART, 'templates')).sort();
}

const isMap = (value: unknown): value is Values => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Helm's merge of user values over the chart's defaults: maps merge key by
 * key, anything else replaces, and null deletes the default.
 */
export function coalesce(defaults: Values, overrides: Values): Values {
  const merged: Values = { ...defaults };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === null) delete merged[key];
    else if (isMap(value) && isMap(merged[key])) merged[key] = coalesce(merged[key], value);
    else merged[key] = value;
  }
  return merged;
}

export interface Validation {
  readonly valid: boolean;
  readonly errors: readonly ErrorObject[];
}

/** A validator for values.schema.json, as strict as Ajv gets (unknown keywords in the schema are errors). */
export function schemaValidator(): (values: unknown) => Validation {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(chartSchema());
  return (values) => {
    const valid = validate(values);
    return { valid, errors: validate.errors ?? [] };
  };
}

/** Sets a dotted path (helm --set style, no list indexes) in a copy of `values`. */
export function withValue(values: Values, path: string, value: unknown): Values {
  const [head, ...rest] = path.split('.');
  const copy: Values = { ...values };
  copy[head!] = rest.length === 0 ? value : withValue(isMap(values[head!]) ? (values[head!] as Values) : {}, rest.join('.'), value);
  return copy;
}

const QUANTITY_FACTORS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes memory quantity (1Gi, 1.5G, 1073741824) in bytes. */
export function quantityBytes(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a memory quantity: ${quantity}`);
  return Math.floor(Number(match[1]) * QUANTITY_FACTORS[match[2] ?? '']!);
}

export interface Sizing {
  readonly baseMiB: number;
  readonly connectionKiB: number;
  readonly limitPercent: number;
}

/**
 * The most memory a pod can need with these Herald limits, in bytes, by the
 * formula in values.yaml (memorySizing): the base RSS plus, per connection, an
 * idle connection, a full output buffer and one more message frame, and a
 * client frame being received (up to twice HERALD_MAX_PAYLOAD).
 */
export function worstCaseBytes(env: Readonly<Record<string, string>>, sizing: Sizing): number {
  const perConnection =
    sizing.connectionKiB * 1024 + Number(env.HERALD_MAX_BACKPRESSURE) + Number(env.HERALD_MAX_MESSAGE_SIZE) + 1024 + 2 * Number(env.HERALD_MAX_PAYLOAD);
  return sizing.baseMiB * 2 ** 20 + Number(env.HERALD_MAX_CONNECTIONS) * perConnection;
}
