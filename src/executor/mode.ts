/**
 * An executor's lifecycle, as one named mode (after graphile-worker's LocalQueue modes):
 *
 * - `starting`: built, start() not yet called.
 * - `waiting`: started; no claim loop under way. It waits for a wake-up: work announced
 *   (event, NOTIFY, the safety-net poll), a commit that freed slots, a claim to retry.
 * - `claiming`: the claim loop is under way (claim-loop.ts): settling unsettled claims, then
 *   claiming while there is room. Back to `waiting` when it ends.
 * - `draining`: stop() was called: nothing more is claimed, unstarted tries go back, running
 *   ones get the grace, and what is left is handed back. Entered from any of the above.
 * - `stopped`: stop() has ended; nothing is held.
 */
export type ExecutorMode = 'starting' | 'waiting' | 'claiming' | 'draining' | 'stopped';

/** The executor's mode, shared by its parts; changed only through these methods. */
export class Lifecycle {
  #mode: ExecutorMode = 'starting';

  get mode(): ExecutorMode {
    return this.#mode;
  }

  /** stop() was called: claim nothing more, hand back what a settled claim finds. */
  get draining(): boolean {
    return this.#mode === 'draining' || this.#mode === 'stopped';
  }

  started(): void {
    if (this.#mode === 'starting') this.#mode = 'waiting';
  }

  /** A claim loop began; a draining executor stays draining (its loop only settles claims). */
  claiming(): void {
    if (this.#mode === 'waiting') this.#mode = 'claiming';
  }

  /** The claim loop ended. */
  claimed(): void {
    if (this.#mode === 'claiming') this.#mode = 'waiting';
  }

  drain(): void {
    this.#mode = 'draining';
  }

  stopped(): void {
    this.#mode = 'stopped';
  }
}
