import { DagDefinitionError } from '../errors.js';
import { buildGraph, findCycle, type TaskGraph } from './graph.js';
import type { CleanseConfig, CleanseResult } from './operators/cleanse.js';
import type { ReportConfig, ReportResult } from './operators/report.js';
import { OPERATOR_SCHEMAS, storableConfig } from './operators/schemas.js';
import type { SqlConfig, SqlResult } from './operators/sql.js';
import {
  compileSensor,
  compileSqlPart,
  SENSOR_KEYS,
  SQL_SENSOR_KEYS,
  type SensorConfig,
  type SqlSensorConfig,
} from './operators/sensor.js';
import type { SyncConfig, SyncResult } from './operators/sync.js';
import { describeIssues } from '../util/validation.js';
import { checkDatasetUris } from './datasets.js';
import {
  compileDagOptions,
  compileTaskOptions,
  ID_HINT,
  ID_PATTERN,
  TASK_OPTION_KEYS,
  type CompiledDagOptions,
  type TaskSettings,
} from './options.js';
import { serializeOptions, serializeTask, type SerializedDag } from './serialize.js';
import type {
  BranchChoice,
  DagOptions,
  MapOptions,
  MappedFunction,
  ParamsSpec,
  TaskFunction,
  TaskHandle,
  TaskOptions,
} from './types.js';
import { callbackEvents, mergeCallbacks, type TaskCallbacks } from './callbacks.js';
import { mapDefinition } from './mapping.js';

/** Marks DAG objects across module copies (a DAG file may load its own copy of 'updraft'). */
const DAG_BRAND = Symbol.for('updraft.dag');

/** One task as defined in a DAG file. */
export interface TaskDefinition {
  id: string;
  operator: string;
  settings: TaskSettings;
  /** The function a 'task' runs; operators keep plain data in `config`. */
  // biome-ignore lint/suspicious/noExplicitAny: the function takes its own DAG's params; any lets every DAG's fit here
  fn: TaskFunction<any, unknown> | undefined;
  config: unknown;
  /** Dataset URIs the task updates (docs/datasets.md). */
  outlets: string[];
  upstream: Set<string>;
  /** Its callbacks and the DAG defaults' (functions, like `fn`: never stored). */
  callbacks: TaskCallbacks;
}

type Refs = TaskHandle<unknown> | readonly TaskHandle<unknown>[];

class TaskRef<R> implements TaskHandle<R> {
  declare readonly __result?: R;
  constructor(
    readonly id: string,
    private readonly owner: DagBuilder<ParamsSpec>,
  ) {}

  get dagId(): string {
    return this.owner.dagId;
  }

  // biome-ignore lint/suspicious/noThenProperty: a handle is a thenable on purpose (see the comment inside)
  then<N extends Refs>(next: N): N {
    // then() makes a handle a thenable: a promise adopting one (a branch's async function
    // returning its choice) calls then(resolve, reject). It gets a plain reference instead.
    if (typeof next === 'function') {
      (next as unknown as (value: unknown) => void)({ id: this.id, dagId: this.dagId });
      return undefined as unknown as N;
    }
    for (const down of toList(next, 'then()', this.dagId)) this.owner.link(this, down);
    return next;
  }

  after(...upstream: Refs[]): this {
    for (const group of upstream) for (const up of toList(group, 'after()', this.dagId)) this.owner.link(up, this);
    return this;
  }

  /** @internal */
  belongsTo(owner: DagBuilder<ParamsSpec>): boolean {
    return this.owner === owner;
  }
}

/** [the entries whose key is in `keys`, the others]. */
function splitKeys(
  input: Record<string, unknown>,
  keys: ReadonlySet<string>,
): [Record<string, unknown>, Record<string, unknown>] {
  const inside: Record<string, unknown> = {};
  const outside: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) (keys.has(key) ? inside : outside)[key] = value;
  return [inside, outside];
}

/** A sensor's task options: its `executionTimeout` is the task option `timeout` (its `timeout` is the sensor's). */
function sensorTaskOptions(options: Record<string, unknown>, sensor: Record<string, unknown>): TaskOptions {
  return (
    sensor.executionTimeout === undefined ? options : { ...options, timeout: sensor.executionTimeout }
  ) as TaskOptions;
}

function toList(refs: Refs, where: string, dagId: string): TaskHandle<unknown>[] {
  const list = Array.isArray(refs) ? refs : [refs];
  for (const ref of list) {
    if (!(ref instanceof TaskRef)) {
      const got = ref === undefined || ref === null ? String(ref) : typeof ref;
      throw new DagDefinitionError(`DAG '${dagId}': ${where}: expected a task reference, got ${got}`, {
        field: 'tasks',
      });
    }
  }
  return list as TaskHandle<unknown>[];
}

/** What a DAG's build function receives: `t.task(...)` and friends. */
export class DagBuilder<P extends ParamsSpec> {
  /** @internal */
  readonly tasks = new Map<string, TaskDefinition>();
  #sealed = false;

  constructor(private readonly options: CompiledDagOptions) {}

  get dagId(): string {
    return this.options.id;
  }

  /** A task that runs a TypeScript function; its return value (JSON) is its result. */
  task<R>(id: string, fn: TaskFunction<P, R>): TaskHandle<Awaited<R>>;
  task<R>(id: string, options: TaskOptions, fn: TaskFunction<P, R>): TaskHandle<Awaited<R>>;
  task<R>(id: string, a: TaskOptions | TaskFunction<P, R>, b?: TaskFunction<P, R>): TaskHandle<Awaited<R>> {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b];
    if (typeof fn !== 'function') {
      throw this.error(`task '${id}': expected a function as the last argument`, 'tasks');
    }
    return this.define(id, 'task', options ?? {}, { fn });
  }

  /**
   * A branch (Airflow's @task.branch): `fn` returns the direct downstream task(s) to follow
   * (handles or ids; null or [] follows none); the other direct downstream tasks are skipped.
   * Its result is the list of followed ids. See docs/branching-and-mapping.md.
   */
  branch(id: string, fn: TaskFunction<P, BranchChoice>): TaskHandle<string[]>;
  branch(id: string, options: TaskOptions, fn: TaskFunction<P, BranchChoice>): TaskHandle<string[]>;
  branch(
    id: string,
    a: TaskOptions | TaskFunction<P, BranchChoice>,
    b?: TaskFunction<P, BranchChoice>,
  ): TaskHandle<string[]> {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b];
    if (typeof fn !== 'function')
      throw this.error(`task '${id}' (branch): expected a function as the last argument`, 'tasks');
    return this.define(id, 'branch', options ?? {}, { fn });
  }

  /**
   * A mapped task (Airflow's dynamic task mapping): one instance per item of `over` (an
   * upstream task's array result, or a literal array), each calling `fn(ctx, item)`.
   * Pulling it gives every instance's result in map-index order. See docs/branching-and-mapping.md.
   */
  map<T, R>(id: string, options: MapOptions<T>, fn: MappedFunction<P, T, R>): TaskHandle<Awaited<R>[]> {
    const { taskOptions, config, upstream } = mapDefinition(
      this.dagId,
      id,
      options,
      fn,
      (ref) => ref instanceof TaskRef && ref.belongsTo(this),
    );
    const handle = this.define<Awaited<R>[]>(id, 'map', taskOptions, {
      fn: fn as unknown as TaskFunction<P, unknown>,
      config,
    });
    if (upstream) this.link(upstream, handle);
    return handle;
  }

  /** Runs SQL statements on a named connection; the result is the row count and the first rows. See docs/operators.md. */
  sql<Row = Record<string, unknown>>(id: string, config: SqlConfig & TaskOptions): TaskHandle<SqlResult<Row>> {
    return this.operatorTask(id, 'sql', config);
  }

  /** Copies a table or query from one connection into a table (full or incremental). See docs/operators.md. */
  sync(id: string, config: SyncConfig & TaskOptions): TaskHandle<SyncResult> {
    return this.operatorTask(id, 'sync', config);
  }

  /** Cleanses a table with declarative rules, as SQL in the database; rejected rows go to a quarantine table. */
  cleanse(id: string, config: CleanseConfig & TaskOptions): TaskHandle<CleanseResult> {
    return this.operatorTask(id, 'cleanse', config);
  }

  /** Runs a query and renders it as CSV, JSON, Markdown or HTML; the report is kept with the run. */
  report(id: string, config: ReportConfig & TaskOptions): TaskHandle<ReportResult> {
    return this.operatorTask(id, 'report', config);
  }

  /**
   * A sensor: `poke` runs every `interval` until it returns a truthy value (the XCom unless
   * it is `true`) or `timeout` passes. `timeout` here is the sensor's (Airflow's meaning);
   * a try's own limit is `executionTimeout`. See docs/sensors.md.
   */
  sensor<R>(
    id: string,
    config: SensorConfig<R, P>,
  ): TaskHandle<Exclude<Awaited<R>, true | false | null | undefined | 0 | ''> | undefined> {
    if (typeof config !== 'object' || config === null)
      throw this.error(`task '${id}' (sensor): expected a config object as the second argument`, 'tasks');
    const { poke, ...rest } = config as SensorConfig<R, P> & Record<string, unknown>;
    if (typeof poke !== 'function')
      throw this.error(`task '${id}' (sensor): poke: expected a function`, `tasks.${id}.poke`);
    const [own, options] = splitKeys(rest, SENSOR_KEYS);
    const sensor = compileSensor(this.dagId, id, 'sensor', own);
    return this.define(id, 'sensor', sensorTaskOptions(options, own), {
      fn: poke as TaskFunction<P, unknown>,
      config: sensor,
    });
  }

  /** A sensor that is true when a query returns a row, or when rows of the run's interval exist in a table. See docs/sensors.md. */
  sqlSensor(id: string, config: SqlSensorConfig): TaskHandle<undefined> {
    if (typeof config !== 'object' || config === null)
      throw this.error(`task '${id}' (sql_sensor): expected a config object as the second argument`, 'tasks');
    const [own, options] = splitKeys(config as unknown as Record<string, unknown>, SQL_SENSOR_KEYS);
    const [sensorPart, sqlPart] = splitKeys(own, SENSOR_KEYS);
    const sensor = compileSensor(this.dagId, id, 'sql_sensor', sensorPart);
    const query = compileSqlPart(this.dagId, id, sqlPart);
    return this.define(id, 'sql_sensor', sensorTaskOptions(options, sensorPart), { config: { ...sensor, ...query } });
  }

  /** Runs the given tasks (or lists of tasks, all of which precede the next) one after the other. */
  chain(...steps: Refs[]): void {
    for (let i = 1; i < steps.length; i++) {
      for (const up of toList(steps[i - 1]!, 'chain()', this.dagId))
        for (const down of toList(steps[i]!, 'chain()', this.dagId)) this.link(up, down);
    }
  }

  /** @internal Adds a task of any operator. Operators call this with their plain-data config. */
  define<R>(
    id: string,
    operator: string,
    options: TaskOptions,
    body: { fn?: TaskFunction<P, unknown>; config?: unknown },
  ): TaskHandle<R> {
    this.assertOpen();
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      throw this.error(`task id ${JSON.stringify(id)} is invalid: ${ID_HINT}`, 'tasks');
    }
    if (this.tasks.has(id)) throw this.error(`duplicate task id '${id}'`, 'tasks');
    const { outlets: rawOutlets, ...rest } = options;
    const settings = compileTaskOptions(this.dagId, id, this.options.defaults, rest);
    const outlets =
      rawOutlets === undefined ? [] : checkDatasetUris(rawOutlets, `DAG '${this.dagId}': task '${id}'`, 'outlets');
    const callbacks = mergeCallbacks(this.options.defaultCallbacks, options);
    this.tasks.set(id, {
      id,
      operator,
      settings,
      fn: body.fn,
      config: body.config ?? null,
      outlets,
      upstream: new Set(),
      callbacks,
    });
    return new TaskRef<R>(id, this);
  }

  private operatorTask<R>(id: string, operator: keyof typeof OPERATOR_SCHEMAS, input: object): TaskHandle<R> {
    if (typeof input !== 'object' || input === null)
      throw this.error(`task '${id}' (${operator}): expected a config object as the second argument`, 'tasks');
    // One object carries both the operator's config and the task's own options (retries, pool, ...).
    const options: Record<string, unknown> = {};
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) (TASK_OPTION_KEYS.has(key) ? options : config)[key] = value;
    const parsed = OPERATOR_SCHEMAS[operator].safeParse(config);
    if (!parsed.success) {
      const path = parsed.error.issues[0]?.path.map(String).join('.');
      throw this.error(
        `task '${id}' (${operator}): ${describeIssues(parsed.error)}`,
        `tasks.${id}${path ? `.${path}` : ''}`,
      );
    }
    return this.define<R>(id, operator, options as TaskOptions, { config: parsed.data });
  }

  /** @internal */
  link(up: TaskHandle<unknown>, down: TaskHandle<unknown>): void {
    this.assertOpen();
    for (const ref of [up, down]) {
      if (!(ref as TaskRef<unknown>).belongsTo(this)) {
        throw this.error(`task '${ref.id}' belongs to DAG '${ref.dagId}', not to this DAG`, 'tasks');
      }
    }
    if (up.id === down.id) throw this.error(`dependency cycle: ${up.id} -> ${up.id}`, 'tasks');
    this.tasks.get(down.id)!.upstream.add(up.id);
  }

  /** @internal */
  seal(): void {
    this.#sealed = true;
  }

  private assertOpen(): void {
    if (this.#sealed) throw this.error('tasks and dependencies can only be added inside the build function', 'tasks');
  }

  private error(message: string, field: string): DagDefinitionError {
    return new DagDefinitionError(`DAG '${this.dagId}': ${message}`, { field });
  }
}

/** A validated DAG: what a DAG file exports. */
export class Dag<P extends ParamsSpec = ParamsSpec> {
  readonly [DAG_BRAND] = true;
  /** @internal phantom field carrying the params type. */
  declare readonly __params?: P;

  constructor(
    readonly options: CompiledDagOptions,
    readonly tasks: ReadonlyMap<string, TaskDefinition>,
    /** The task graph (graphology) the DAG was validated on. */
    readonly graph: TaskGraph,
    /** @internal time spent checking options, tasks and the graph (not running the build function). */
    readonly validateMs = 0,
  ) {}

  get id(): string {
    return this.options.id;
  }

  /** [upstream, downstream] task ids. */
  edges(): [string, string][] {
    return [...this.tasks.values()].flatMap((t) => [...t.upstream].map((up): [string, string] => [up, t.id]));
  }

  /** The plain-data form stored in the database and read by the scheduler. */
  serialize(): SerializedDag {
    const tasks = [...this.tasks.values()];
    return {
      ...serializeOptions(this.options),
      tasks: tasks.map((t) =>
        serializeTask(
          t.id,
          t.operator,
          t.settings,
          this.options.defaults,
          t.config === null ? null : storableConfig(t.config),
          t.outlets,
          callbackEvents(t.callbacks),
        ),
      ),
      edges: this.edges(),
    };
  }
}

export function isDag(value: unknown): value is Dag {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true;
}

/**
 * Defines a DAG. Options are checked first, then `build` adds the tasks and their
 * dependencies; cycles, duplicate ids and foreign task references throw a
 * DagDefinitionError naming the DAG and the field.
 */
// biome-ignore lint/complexity/noBannedTypes: {} is the params of a DAG that declares none: no keys, yet a ParamsSpec
export function dag<const P extends ParamsSpec = {}>(
  options: DagOptions<P>,
  build: (t: DagBuilder<P>) => void,
): Dag<P> {
  let started = performance.now();
  const compiled = compileDagOptions(options as DagOptions<ParamsSpec>);
  let validateMs = performance.now() - started;
  if (typeof build !== 'function') {
    throw new DagDefinitionError(`DAG '${compiled.id}': expected a build function as the second argument of dag()`, {
      field: 'build',
    });
  }
  const builder = new DagBuilder<P>(compiled);
  try {
    const result: unknown = build(builder);
    if (result instanceof Promise) {
      throw new DagDefinitionError(
        `DAG '${compiled.id}': the build function must be synchronous (it returned a promise)`,
        { field: 'build' },
      );
    }
  } catch (error) {
    if (error instanceof DagDefinitionError) throw error;
    throw new DagDefinitionError(
      `DAG '${compiled.id}': the build function threw: ${(error as Error)?.message ?? String(error)}`,
      { field: 'build' },
      { cause: error },
    );
  } finally {
    builder.seal();
  }
  started = performance.now();
  const tasks = builder.tasks;
  if (tasks.size === 0)
    throw new DagDefinitionError(`DAG '${compiled.id}': has no tasks (add one with t.task(...))`, { field: 'tasks' });
  const graph = buildGraph(tasks.keys(), (id) => tasks.get(id)!.upstream);
  const cycle = findCycle(graph);
  if (cycle)
    throw new DagDefinitionError(`DAG '${compiled.id}': dependency cycle: ${cycle.join(' -> ')}`, { field: 'tasks' });
  validateMs += performance.now() - started;
  return new Dag<P>(compiled, tasks, graph, validateMs);
}
