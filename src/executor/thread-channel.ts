import { threadId, type MessagePort } from 'node:worker_threads';
import { redact } from '../util/mask.js';
import type { LogLevel, MainMessage, Question, WorkerMessage } from './protocol.js';

/**
 * The thread's side of one try's channel: posts logs (secrets redacted) and questions, and turns an
 * 'abort' message into `signal`. After `end()` nothing more is posted: output of
 * work the task left running goes to `fallback` instead.
 */
export class ThreadChannel {
  readonly #port: MessagePort;
  readonly #abort = new AbortController();
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #nextId = 1;
  #ended = false;

  constructor(
    port: MessagePort,
    /** Runs `fn` in the task's logging context (so listeners of `signal` log to the task). */
    private readonly inContext: (fn: () => void) => void,
    private readonly fallback: (level: LogLevel, message: string) => void,
  ) {
    this.#port = port;
    port.on('message', (message: MainMessage) => this.#receive(message));
    this.post({ type: 'started' });
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get ended(): boolean {
    return this.#ended;
  }

  log(level: LogLevel, message: string): void {
    const text = redact(message);
    if (this.#ended) this.fallback(level, text);
    else this.post({ type: 'log', level, message: text, at: Date.now() });
  }

  /** Asks the main thread (see Question); rejects with the main thread's error text. */
  ask(question: Question): Promise<unknown> {
    if (this.#ended) return Promise.reject(new Error(`${question.kind} asked after the task ended`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.post({ type: 'ask', id, question, threadId });
    });
  }

  /** Posts 'done' (after every log of the try) and detaches from the port. */
  end(): void {
    if (this.#ended) return;
    this.post({ type: 'done' });
    this.#ended = true;
    this.#port.removeAllListeners('message');
    this.#port.unref();
    for (const { reject } of this.#pending.values())
      reject(new Error('the task ended before its question was answered'));
    this.#pending.clear();
  }

  private post(message: WorkerMessage): void {
    this.#port.postMessage(message);
  }

  #receive(message: MainMessage): void {
    if (message.type === 'abort') {
      if (!this.#abort.signal.aborted) this.inContext(() => this.#abort.abort(new AbortReason(message.reason)));
      return;
    }
    const waiting = this.#pending.get(message.id);
    if (!waiting) return;
    this.#pending.delete(message.id);
    if (message.error !== undefined) waiting.reject(new Error(message.error));
    else waiting.resolve(message.value);
  }
}

/** `ctx.signal.reason`: an Error, so that `signal.throwIfAborted()` throws something with a stack and a message. */
export class AbortReason extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AbortError';
  }
}
