import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { BroadcastChannel, MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { formatDuration } from '../util/duration.js';
import { failed } from './failure.js';
import type { MainMessage, Question, TaskOutcome, TaskPayload, TaskThreadData, WorkerMessage } from './protocol.js';

const WORKER_URL = new URL('./task-worker.mjs', import.meta.url).href;
const CLOSE_CONNECTIONS_MS = 2000;

export interface TaskPoolOptions {
  /** Task threads, i.e. tries running at once. Default: os.availableParallelism(). */
  size?: number;
  /**
   * After a timeout or a cancel, how long a try may take to end by itself (ctx.signal
   * is aborted) before its thread is terminated. Default 1000 ms.
   */
  abortGraceMs?: number;
  /**
   * Superseded DAG file versions the threads may hold before they are replaced. A thread
   * keeps every module it imported (Node's module map has no eviction), and a try imports
   * the file as `<url>?v=<hash>`: a file changed hundreds of times in a long-lived process
   * would pile up its old modules. Past this many, new tries go to fresh threads and the
   * old ones end once their tries have ended. Default 50.
   */
  maxStaleVersions?: number;
}

/** One set of threads; replaced as a whole once it holds too many superseded versions. */
interface Threads {
  piscina: Piscina<TaskPayload, TaskOutcome>;
  /**
   * BroadcastChannel on which these threads say they are ready and take 'close' (end your
   * connections and your esbuild service), answering { closed: threadId }.
   */
  channel: BroadcastChannel;
  /** Threads (by threadId) listening on the channel: the ones to wait for at the end. */
  ready: Set<number>;
  /** Tries submitted here and not yet ended. */
  running: number;
  /** The versions of each DAG file sent here (so imported by some of the threads). */
  versions: Map<string, Set<string>>;
  /** Versions sent here beyond one per file. */
  stale: number;
  retired: boolean;
}

export type LogMessage = Extract<WorkerMessage, { type: 'log' }>;

export interface RunOptions {
  /**
   * The try fails with 'timed out after <duration>' this long after its thread took it
   * (the DAG file's import counts); null: no limit. 0 times out as soon as it starts.
   */
  timeoutMs: number | null;
  /** Aborting it cancels the try: it fails with 'cancelled: <reason>'. */
  signal?: AbortSignal;
  /** Every log line of the try, in order; all of them arrive before run() resolves. */
  onLog?: (message: LogMessage) => void;
  /** Answers the thread's questions (an XCom not in `upstreamResults`, a connection, operator state). Default: every question fails. */
  onAsk?: (question: Question) => Promise<unknown>;
  /** The thread has taken the try (it may have waited for a free thread until now). */
  onStarted?: () => void;
}

/** Runs task tries in a pool of worker threads (piscina); one try per thread at a time. */
export class TaskPool {
  readonly size: number;
  readonly #graceMs: number;
  readonly #maxStale: number;
  #threads: Threads;
  /** Replaced threads still ending their tries. */
  readonly #retiring = new Set<Threads>();
  /** Retired sets being ended: close() waits for them too. */
  readonly #ending = new Set<Promise<void>>();
  #replaced = 0;
  #running = 0;
  #closing = false;

  constructor(options: TaskPoolOptions = {}) {
    this.size = options.size ?? os.availableParallelism();
    if (!Number.isInteger(this.size) || this.size < 1)
      throw new RangeError(`TaskPool size must be a positive integer, got ${options.size}`);
    this.#graceMs = options.abortGraceMs ?? 1000;
    if (!(this.#graceMs >= 0))
      throw new RangeError(`TaskPool abortGraceMs must be 0 or more, got ${options.abortGraceMs}`);
    this.#maxStale = options.maxStaleVersions ?? 50;
    if (!Number.isInteger(this.#maxStale) || this.#maxStale < 0)
      throw new RangeError(`TaskPool maxStaleVersions must be an integer, 0 or more, got ${options.maxStaleVersions}`);
    this.#threads = this.#startThreads();
  }

  #startThreads(): Threads {
    const control = `updraft-task-pool-${randomUUID()}`;
    const piscina = new Piscina<TaskPayload, TaskOutcome>({
      filename: WORKER_URL,
      minThreads: this.size,
      maxThreads: this.size,
      // The thread registers tsx itself (task-worker.mjs): inheriting `--import tsx` breaks the
      // import of .ts files in worker threads on Node 20 (ERR_UNKNOWN_FILE_EXTENSION, tsx issue #354).
      execArgv: [],
      // An idle thread waits with Atomics.waitAsync, not Atomics.wait, which would block its
      // event loop: it could not hear 'close' on its channel (#closeConnections).
      atomics: 'async',
      workerData: { control } satisfies TaskThreadData,
    });
    const channel = new BroadcastChannel(control);
    channel.unref();
    const ready = new Set<number>();
    channel.onmessage = (event) => {
      const data = (event as MessageEvent).data as { ready?: number };
      if (data.ready !== undefined) ready.add(data.ready);
    };
    return { piscina, channel, ready, running: 0, versions: new Map(), stale: 0, retired: false };
  }

  /** Tries submitted and not yet ended (including any waiting for a free thread). */
  get running(): number {
    return this.#running;
  }

  /** How many times the threads were replaced for holding too many superseded versions (maxStaleVersions). */
  get replaced(): number {
    return this.#replaced;
  }

  /**
   * The threads for a try of this file version: the current ones, or new ones if this
   * version would put them past maxStaleVersions. The old threads take no new try and
   * end once their running tries have ended, none of which is cut short.
   */
  #threadsFor(file: string, version: string): Threads {
    let threads = this.#threads;
    const known = threads.versions.get(file);
    if (known && !known.has(version) && threads.stale >= this.#maxStale) {
      threads.retired = true;
      this.#retiring.add(threads);
      this.#endIfIdle(threads);
      threads = this.#threads = this.#startThreads();
      this.#replaced++;
    }
    const versions = threads.versions.get(file);
    if (!versions) threads.versions.set(file, new Set([version]));
    else if (!versions.has(version)) {
      versions.add(version);
      threads.stale++;
    }
    return threads;
  }

  #endIfIdle(threads: Threads): void {
    if (!threads.retired || threads.running > 0 || !this.#retiring.delete(threads)) return;
    const ending = this.#end(threads);
    this.#ending.add(ending);
    void ending.finally(() => this.#ending.delete(ending));
  }

  async #end(threads: Threads): Promise<void> {
    await this.#closeConnections(threads);
    await threads.piscina.destroy();
  }

  /** Runs one try. Resolves with its outcome (never rejects once the pool is open), after all its logs. */
  run(payload: Omit<TaskPayload, 'port'>, options: RunOptions): Promise<TaskOutcome> {
    if (this.#closing) return Promise.reject(new Error('the task pool is closed'));
    const { timeoutMs, signal, onLog, onAsk } = options;
    if (timeoutMs !== null && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(
        new RangeError(`timeoutMs must be a number of milliseconds (0 or more) or null, got ${timeoutMs}`),
      );
    }
    const threads = this.#threadsFor(payload.file, payload.fileVersion);
    this.#running++;
    threads.running++;
    // One channel per try keeps tries apart without routing by id. Its cost, measured
    // with a no-op piscina task on 2 threads: ~26-44 µs per round trip without it,
    // ~43-66 µs with it (2 cores, load from other work; medians of 2,000 runs).
    const { port1, port2 } = new MessageChannel();
    const kill = new AbortController();
    const post = (message: MainMessage) => port1.postMessage(message);

    return new Promise<TaskOutcome>((resolve) => {
      let stopReason: string | undefined;
      let outcome: TaskOutcome | undefined;
      let doneSeen = false;
      let timeout: NodeJS.Timeout | undefined;
      let grace: NodeJS.Timeout | undefined;

      let settled = false;
      const finish = (result: TaskOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        clearTimeout(grace);
        signal?.removeEventListener('abort', onCancel);
        port1.close();
        this.#running--;
        threads.running--;
        resolve(result);
        this.#endIfIdle(threads);
      };
      // The outcome comes through piscina and the logs through our channel: wait for
      // both, 'done' being the channel's last message, so no log arrives after.
      const maybeFinish = () => {
        if (outcome && doneSeen) finish(stopReason ? failed(stopReason, true) : outcome);
      };
      const stop = (reason: string) => {
        if (stopReason) return;
        stopReason = reason;
        post({ type: 'abort', reason });
        grace = setTimeout(() => kill.abort(reason), this.#graceMs);
      };
      const onCancel = () => stop(`cancelled: ${reasonText(signal!.reason)}`);

      port1.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'started':
            options.onStarted?.();
            if (timeoutMs !== null)
              timeout = setTimeout(() => stop(`timed out after ${formatDuration(timeoutMs)}`), timeoutMs);
            break;
          case 'log':
            onLog?.(message);
            break;
          case 'ask':
            answer(message.id, message.question);
            break;
          case 'done':
            doneSeen = true;
            maybeFinish();
            break;
        }
      });
      const answer = (id: number, question: Question) => {
        const pending = onAsk
          ? Promise.resolve().then(() => onAsk(question))
          : Promise.reject(new Error(`nothing answers '${question.kind}' questions here`));
        pending
          .then(
            (value) => post({ type: 'answer', id, value }),
            (error: unknown) => post({ type: 'answer', id, error: reasonText(error) }),
          )
          .catch((error: unknown) =>
            post({ type: 'answer', id, error: `the answer cannot be sent to the task: ${reasonText(error)}` }),
          );
      };

      if (signal?.aborted) {
        stopReason = `cancelled: ${reasonText(signal.reason)}`;
        kill.abort(stopReason);
      } else {
        signal?.addEventListener('abort', onCancel, { once: true });
      }

      threads.piscina.run({ ...payload, port: port2 }, { transferList: [port2], signal: kill.signal }).then(
        (result) => {
          outcome = result;
          maybeFinish();
        },
        (error: unknown) => {
          if (stopReason) finish(failed(stopReason, true));
          else if (this.#closing) finish(failed('cancelled: the task pool was closed', true));
          else finish(failed(`the task thread died: ${reasonText(error)}`, true));
        },
      );
    });
  }

  /** Terminates the threads; tries still running end as cancelled. */
  async close(): Promise<void> {
    this.#closing = true;
    const all = [this.#threads, ...this.#retiring];
    this.#retiring.clear();
    await Promise.all([...all.map((threads) => this.#end(threads)), ...this.#ending]);
  }

  /**
   * Asks every thread to end its connection pools (operators' database connections) and its
   * esbuild service (a child process of tsx: a thread that ends without waiting for it leaves
   * a zombie, src/loader/children.mjs) before the threads are terminated. A thread stuck in a
   * try, or still loading, does not answer; after CLOSE_CONNECTIONS_MS it is terminated all the same.
   */
  async #closeConnections(threads: Threads): Promise<void> {
    const { channel } = threads;
    const alive = new Set(threads.piscina.threads.map((t) => t.threadId));
    const waiting = new Set([...threads.ready].filter((id) => alive.has(id)));
    if (waiting.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_CONNECTIONS_MS);
        channel.onmessage = (event) => {
          const data = (event as MessageEvent).data as { closed?: number };
          if (data.closed !== undefined) waiting.delete(data.closed);
          if (waiting.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        channel.postMessage('close');
      });
    }
    channel.close();
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'no reason given' : String(reason);
}
