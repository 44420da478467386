/**
 * Cleanse rules compiled to SQL over the working table (a temp copy of the table
 * cleansed, see work.ts): each rule becomes one or a few UPDATEs (or a DELETE for
 * dedupe) over the rows no rule has rejected yet. Pure: the catalog's columns go in,
 * statements with their parameters come out, and every mistake a DAG author can make
 * (a missing column, trim on a number) is an OperatorError before anything runs.
 *
 * Identifiers go through quoteIdent; values (nullIf values, defaults, patterns, bounds,
 * allowed values, even the reasons' templates) are bound parameters. Type names are
 * spliced: they come from the catalog (format_type) or from CAST_TYPES, never from free text.
 */
import { quoteIdent } from '../../db/quote.js';
import { OperatorError } from '../types.js';
import type { CastType, CleanseRule } from '../../dag/operators/cleanse.js';
import { WORK, type Column } from './work.js';

export interface CompiledStatement {
  text: string;
  values: unknown[];
  /** What this statement's row count adds up to in the result, if anything. */
  counts?: 'changed' | 'rejected' | 'deduplicated';
}

export interface CompiledRule {
  /** 'rules[3]', for errors and the log. */
  field: string;
  /** '3:regex', as stored in the quarantine and in rejectedByRule. */
  label: string;
  /** 'regex email', for the log. */
  describe: string;
  statements: CompiledStatement[];
}

export interface Plan {
  rules: CompiledRule[];
  /** Whether some rule needs the cast check helper (work.ts) created first. */
  castCheck: boolean;
  /** Each column's type after every rule ran (casts change them). */
  types: Map<string, string>;
}

type ColumnType = { type: string; category: string };

/** The format_type() spelling of each cast target, to know when a column already has it. */
const CATALOG_NAME: Record<CastType, string> = {
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  'double precision': 'double precision',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp without time zone',
  timestamptz: 'timestamp with time zone',
  uuid: 'uuid',
  text: 'text',
  jsonb: 'jsonb',
};

/** Compiles `rules` for `table` (named in messages) whose columns are `columns`. */
export function compileRules(rules: CleanseRule[], table: string, columns: Column[]): Plan {
  const types = new Map<string, ColumnType>(columns.map((c) => [c.name, { type: c.type, category: c.category }]));
  let castCheck = false;
  const compiled = rules.map((rule, i) => {
    const field = `rules[${i}]`;
    const typeOf = (column: string): ColumnType => {
      const known = types.get(column);
      if (known) return known;
      throw new OperatorError(
        'cleanse',
        field,
        `${rule.rule} names column '${column}', which table ${table} does not have (its columns: ${columns.map((c) => c.name).join(', ')})`,
      );
    };
    for (const column of namedColumns(rule)) typeOf(column);
    const textOnly = (column: string) => {
      const { type, category } = typeOf(column);
      // A string function on a number or a date would silently turn it into text: say so instead.
      if (category !== 'S')
        throw new OperatorError(
          'cleanse',
          field,
          `${rule.rule} works on text, and column '${column}' of table ${table} is ${type} (cast it to text first)`,
        );
    };
    const statements = compileRule(rule, i, typeOf, textOnly);
    if (rule.rule === 'cast' && statements.length > 0) {
      if (rule.to !== 'text') castCheck = true;
      // Of the category, the rules only ask whether it is a string ('S').
      types.set(rule.column, { type: CATALOG_NAME[rule.to], category: rule.to === 'text' ? 'S' : '' });
    }
    return { field, label: `${i}:${rule.rule}`, describe: describeRule(rule), statements };
  });
  return { rules: compiled, castCheck, types: new Map([...types].map(([name, t]) => [name, t.type])) };
}

function compileRule(
  rule: CleanseRule,
  index: number,
  typeOf: (column: string) => ColumnType,
  textOnly: (column: string) => void,
): CompiledStatement[] {
  switch (rule.rule) {
    case 'trim':
    case 'lower':
    case 'upper': {
      rule.columns.forEach(textOnly);
      const fn = { trim: 'btrim', lower: 'lower', upper: 'upper' }[rule.rule];
      return [transform(rule.columns, (c) => `${fn}(${c})`)];
    }
    case 'nullIf': {
      const p = new Params();
      const c = quoteIdent([rule.column]);
      const values = p.add(rule.values.map(String), `${valueType(typeOf(rule.column))}[]`);
      return [
        {
          text: `update ${WORK} set ${c} = null, __changed = true where __rule is null and ${c} = any(${values})`,
          values: p.values,
          counts: 'changed',
        },
      ];
    }
    case 'default': {
      const p = new Params();
      const c = quoteIdent([rule.column]);
      // Bound as text for string columns: assigning it then fails on a varchar(n) it does not fit, where an explicit cast would cut it.
      const value = p.add(String(rule.value), valueType(typeOf(rule.column)));
      return [
        {
          text: `update ${WORK} set ${c} = ${value}, __changed = true where __rule is null and ${c} is null`,
          values: p.values,
          counts: 'changed',
        },
      ];
    }
    case 'cast':
      return compileCast(rule.column, rule.to, index, typeOf(rule.column));
    case 'required':
      return rule.columns.map((column) => {
        const c = quoteIdent([column]);
        // For text, a blank value ('' or only spaces) is as missing as a null.
        const blank = typeOf(column).category === 'S' ? ` or btrim(${c}) = ''` : '';
        return reject(
          new Params(),
          index,
          column,
          `${c} is null${blank}`,
          () => `case when ${c} is null then 'value is null' else 'value is blank' end`,
        );
      });
    case 'regex': {
      const p = new Params();
      const c = quoteIdent([rule.column]);
      const pattern = p.add(rule.pattern, 'text');
      return [
        reject(
          p,
          index,
          rule.column,
          `${c}::text !~ ${pattern}`,
          (t) => `format(${t("'%s' does not match the pattern %s")}, ${c}::text, ${pattern})`,
        ),
      ];
    }
    case 'range': {
      const c = quoteIdent([rule.column]);
      const type = valueType(typeOf(rule.column));
      const bounds: CompiledStatement[] = [];
      for (const [bound, op, words] of [
        [rule.min, '<', 'is below the minimum'],
        [rule.max, '>', 'is above the maximum'],
      ] as const) {
        if (bound === undefined) continue;
        const p = new Params();
        const limit = p.add(String(bound), type);
        bounds.push(
          reject(
            p,
            index,
            rule.column,
            `${c} ${op} ${limit}`,
            (t) => `format(${t(`%s ${words} %s`)}, ${c}::text, ${limit}::text)`,
          ),
        );
      }
      return bounds;
    }
    case 'allowed': {
      const p = new Params();
      const c = quoteIdent([rule.column]);
      const allowed = p.add(rule.values.map(String), `${valueType(typeOf(rule.column))}[]`);
      const shown = p.add(rule.values.map(String).join(', '), 'text');
      return [
        reject(
          p,
          index,
          rule.column,
          `not (${c} = any(${allowed}))`,
          (t) => `format(${t("'%s' is not one of the allowed values (%s)")}, ${c}::text, ${shown})`,
        ),
      ];
    }
    case 'dedupe': {
      const key = rule.key.map((k) => quoteIdent([k])).join(', ');
      const latest = quoteIdent([rule.keepLatestBy]);
      // Per key, the row with the greatest keepLatestBy stays (nulls count as oldest); ties go to the row read last.
      const text = `delete from ${WORK} w using (
          select __row, row_number() over (partition by ${key} order by ${latest} desc nulls last, __row desc) as n
          from ${WORK} where __rule is null
        ) ranked
        where w.__row = ranked.__row and ranked.n > 1`;
      return [{ text, values: [], counts: 'deduplicated' }];
    }
  }
}

/**
 * A cast rejects the rows whose value does not convert, marks the rows whose value reads
 * differently once converted (' 42' to 42), then converts the column. The conversion goes
 * through text, as the check does, so that what passed the check always converts. A column
 * that already has the type is left alone: a second run changes nothing.
 */
function compileCast(column: string, to: CastType, index: number, from: ColumnType): CompiledStatement[] {
  if (from.type.replace(/\(\d+(,\s*\d+)?\)/, '') === CATALOG_NAME[to]) return [];
  const c = quoteIdent([column]);
  const statements: CompiledStatement[] = [];
  if (to !== 'text') {
    const p = new Params();
    statements.push(
      reject(
        p,
        index,
        column,
        `${c} is not null and not pg_temp.updraft_can_cast(${c}::text, null::${to})`,
        (t) => `format(${t(`cannot cast '%s' to ${to}`)}, ${c}::text)`,
      ),
    );
  }
  // CASE, unlike AND, guarantees the rejected rows' values are never converted.
  const differs = `case when __rule is null and ${c} is not null then ${c}::text is distinct from ${c}::text::${to}::text else false end`;
  statements.push({ text: `update ${WORK} set __changed = true where ${differs}`, values: [], counts: 'changed' });
  // Rejected rows lose the value here; the quarantine keeps them as they were read (__original).
  statements.push({
    text: `alter table ${WORK} alter column ${c} type ${to} using case when __rule is null then ${c}::text::${to} end`,
    values: [],
  });
  return statements;
}

/** One UPDATE applying `fn` to `columns`, only on rows where it changes something. */
function transform(columns: string[], fn: (column: string) => string): CompiledStatement {
  const quoted = columns.map((c) => quoteIdent([c]));
  const sets = quoted.map((c) => `${c} = ${fn(c)}`).join(', ');
  const differs = quoted.map((c) => `${c} is distinct from ${fn(c)}`).join(' or ');
  return {
    text: `update ${WORK} set ${sets}, __changed = true where __rule is null and (${differs})`,
    values: [],
    counts: 'changed',
  };
}

/** One UPDATE rejecting the rows where `condition` holds, with the reason `reason` builds (given a way to bind a template). */
function reject(
  p: Params,
  index: number,
  column: string,
  condition: string,
  reason: (template: (text: string) => string) => string,
): CompiledStatement {
  const why = reason((text) => p.add(text, 'text'));
  const text = `update ${WORK} set __rule = ${p.add(index, 'integer')}, __column = ${p.add(column, 'text')}, __reason = ${why} where __rule is null and (${condition})`;
  return { text, values: p.values, counts: 'rejected' };
}

/** The type a rule's values are compared in: text for string columns (so 'n/a' fits a varchar(2)), else the column's own. */
function valueType(column: ColumnType): string {
  return column.category === 'S' ? 'text' : column.type;
}

/** Every column a rule names. */
export function namedColumns(rule: CleanseRule): string[] {
  if ('columns' in rule) return rule.columns;
  if (rule.rule === 'dedupe') return [...rule.key, rule.keepLatestBy];
  return [rule.column];
}

function describeRule(rule: CleanseRule): string {
  if (rule.rule === 'dedupe') return `dedupe by ${rule.key.join(', ')} keeping the latest ${rule.keepLatestBy}`;
  if (rule.rule === 'cast') return `cast ${rule.column} to ${rule.to}`;
  return `${rule.rule} ${namedColumns(rule).join(', ')}`;
}

/** Bound parameters of one statement: `add` returns the typed placeholder ('$2::integer'). */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}
