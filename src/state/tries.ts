/**
 * A try's transitions on the executor's side, by name: claim (scheduled -> queued, a lease and
 * a try number), start (queued -> running), hand back (queued or running -> scheduled, no try
 * used up) and recovering claims whose reply was lost. Each is one hot statement, kept with
 * the measurement that shaped it in src/db/sql/; this module is how the layers above reach
 * them. A try's end is src/state/complete-tries.ts.
 */
export {
  type Claim,
  type ClaimedTask,
  type ClaimRequest,
  claimTasks,
  claimWithin,
  recoverClaims,
} from '../db/sql/claim-tasks.js';
export { type HeldTry, handBackTries } from '../db/sql/hand-back.js';
export { markTriesRunning, type StartedTry } from '../db/sql/start-tries.js';
