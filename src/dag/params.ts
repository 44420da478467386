import { ConfigError, UpdraftError } from '../errors.js';
import { TEXT_RULE, unstorableJsonPath } from '../util/input.js';
import { PARAM_TYPES, type ParamSpec, type ParamType, type ParamsSpec } from './types.js';

/** A run's conf does not match the DAG's params. */
export class ParamsError extends UpdraftError {}

function typeMatches(type: ParamType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

function checkValue(name: string, spec: ParamSpec, value: unknown, what: string): void {
  if (!typeMatches(spec.type, value)) {
    throw new ParamsError(`${name}: ${what} ${JSON.stringify(value)} is not of type ${spec.type}`);
  }
  if (spec.enum && !spec.enum.some((allowed) => allowed === value)) {
    throw new ParamsError(
      `${name}: ${what} ${JSON.stringify(value)} is not one of ${spec.enum.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  }
}

/** Checks the declaration of params: known types, defaults and enums of that type. */
export function checkParamsSpec(spec: ParamsSpec): void {
  for (const [name, param] of Object.entries(spec)) {
    if (typeof param !== 'object' || param === null || !PARAM_TYPES.includes(param.type)) {
      throw new ParamsError(`${name}: type must be one of ${PARAM_TYPES.join(', ')}`);
    }
    if (param.enum !== undefined) {
      if (!Array.isArray(param.enum)) throw new ParamsError(`${name}.enum: must be a list`);
      for (const value of param.enum) checkValue(name, { type: param.type }, value, 'enum value');
    }
    if (param.default !== undefined) checkValue(name, param, param.default, 'default');
  }
}

/**
 * The params a run sees: the conf's values checked against their declared types,
 * defaults for the rest. Conf keys that are not params stay available in `ctx.conf`.
 */
export function resolveParams(spec: ParamsSpec, conf: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(spec)) {
    if (conf[name] !== undefined) {
      checkValue(name, param, conf[name], 'value');
      params[name] = conf[name];
    } else if (param.default !== undefined) {
      params[name] = param.default;
    } else {
      throw new ParamsError(`${name}: required param has no value in conf and no default`);
    }
  }
  return params;
}

/**
 * resolveParams for a user's conf: a mismatch is a ConfigError naming the DAG and where
 * the conf came from (`what`, e.g. 'conf' or '--conf').
 */
export function resolveConf(
  params: ParamsSpec,
  conf: Record<string, unknown>,
  dagId: string,
  what: string,
): Record<string, unknown> {
  // The database stores a conf as jsonb, which refuses a NUL or an unpaired surrogate.
  const unstorable = unstorableJsonPath(conf);
  if (unstorable)
    throw new ConfigError(
      `${what}${unstorable.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}: ${TEXT_RULE}`,
    );
  try {
    return resolveParams(params, conf);
  } catch (error) {
    throw new ConfigError(`${what} does not match the params of DAG '${dagId}': ${(error as Error).message}`);
  }
}
