/**
 * What the backfill pages (backfills.tsx) and the DAG page's backfills tab share: a table
 * of backfills with their progress, the progress bar (plain HTML: one coloured span per
 * state, as wide as its share of the dates), and the form that creates a backfill.
 */
import type { Db } from '../../../db/client.js';
import { backfillProgress, datesDone, type BackfillInfo, type BackfillProgress } from '../../../backfill/read.js';
import { CsrfField, StateBadge, type PageContext } from '../layout.js';
import { canOperate, DateRule, enc, Time } from './kit.js';

export interface BackfillRow {
  info: BackfillInfo;
  progress: BackfillProgress;
}

/** What the create form sent, and why it was refused. */
export interface BackfillForm {
  from: string;
  to: string;
  reprocess: string;
  maxActiveRuns: string;
  backwards: boolean;
  conf: string;
  error?: string;
}

export const backfillPath = (id: number) => `/ui/backfills/${id}`;

/** Each backfill with its progress (one statement each; the pages show 25 at a time). */
export async function withProgress(db: Db, backfills: BackfillInfo[]): Promise<BackfillRow[]> {
  return Promise.all(backfills.map(async (info) => ({ info, progress: await backfillProgress(db, info.id) })));
}

/** '3/10', '3/1000+' while the plan is still being written. */
export function doneOfTotal(p: BackfillProgress): string {
  return `${datesDone(p)}/${p.total}${p.planDone ? '' : '+'}`;
}

const SEGMENTS: [keyof BackfillProgress, string, string][] = [
  ['succeeded', 'success', 'succeeded'],
  ['failed', 'failed', 'failed'],
  ['skipped', 'skipped', 'skipped (a run existed)'],
  ['running', 'running', 'running'],
  ['queued', 'queued', 'queued'],
];

export function ProgressBar({ progress, small }: { progress: BackfillProgress; small?: boolean }) {
  const total = progress.total;
  const title = `${doneOfTotal(progress)} dates done`;
  return (
    <div class={small ? 'bf-bar small' : 'bf-bar'} title={title} role="img" aria-label={title}>
      {total === 0
        ? null
        : SEGMENTS.map(([key, state, label]) => {
            const n = progress[key] as number;
            return n > 0 ? (
              <span
                class={`s-${state}`}
                style={`width:${((100 * n) / total).toFixed(2)}%`}
                title={`${n} ${label}`}
                data-count={n}
              ></span>
            ) : null;
          })}
    </div>
  );
}

/** The rows of a table of backfills: the list page's live fragment, and the DAG page's. */
export function BackfillRows({ rows, showDag }: { rows: BackfillRow[]; showDag: boolean }) {
  if (rows.length === 0) {
    return (
      <tr>
        <td colspan={showDag ? 9 : 8} class="muted">
          No backfills.
        </td>
      </tr>
    );
  }
  return (
    <>
      {rows.map(({ info, progress }) => (
        <tr data-backfill={info.id}>
          <td>
            <a href={backfillPath(info.id)}>#{info.id}</a>
          </td>
          {showDag ? (
            <td>
              <a href={`/ui/dags/${enc(info.dagId)}`}>{info.dagId}</a>
            </td>
          ) : null}
          <td class="range">
            <Time at={info.from} /> – <Time at={info.to} />
            {info.backwards ? <span class="muted small"> (backwards)</span> : null}
          </td>
          <td>{info.reprocess}</td>
          <td>
            <StateBadge state={info.state} />
          </td>
          <td class="bf-progress">
            <ProgressBar progress={progress} small /> <span class="small">{doneOfTotal(progress)}</span>
          </td>
          <td>
            {progress.failed > 0 ? <span class="failed-count">{progress.failed}</span> : <span class="muted">0</span>}
          </td>
          <td>{info.createdBy}</td>
          <td>
            <Time at={info.createdAt} />
          </td>
        </tr>
      ))}
    </>
  );
}

export function BackfillTableHead({ showDag }: { showDag: boolean }) {
  return (
    <thead>
      <tr>
        <th>backfill</th>
        {showDag ? <th>DAG</th> : null}
        <th>logical dates</th>
        <th>reprocess</th>
        <th>state</th>
        <th>progress</th>
        <th>failed</th>
        <th>created by</th>
        <th>created</th>
      </tr>
    </thead>
  );
}

export const EMPTY_FORM: BackfillForm = {
  from: '',
  to: '',
  reprocess: 'none',
  maxActiveRuns: '10',
  backwards: false,
  conf: '',
};

/** The create form of the DAG page's backfills tab (operators only). */
export function BackfillCreateForm({
  page,
  dagId,
  timezone,
  form,
}: {
  page: PageContext;
  dagId: string;
  timezone: string;
  form?: BackfillForm;
}) {
  if (!canOperate(page)) return <p class="muted">Log in as an operator to create a backfill.</p>;
  const f = form ?? EMPTY_FORM;
  return (
    <details open={form !== undefined}>
      <summary>Create a backfill</summary>
      <form
        method="post"
        action={`/ui/dags/${enc(dagId)}/backfills`}
        class="trigger backfill"
        onsubmit={`return confirm(${JSON.stringify(`Create a backfill of ${dagId}?`)})`}
      >
        <CsrfField page={page} />
        {f.error ? <p class="banner backfill-error">{f.error}</p> : null}
        <p class="muted small">
          Runs the DAG for every schedule interval whose logical date is in the range, paused or not.{' '}
          <DateRule timezone={timezone} />
        </p>
        <div class="row">
          <label>
            from <input name="from" value={f.from} placeholder="2026-01-01" required />
          </label>
          <label>
            to <input name="to" value={f.to} placeholder="2026-01-31" required />
          </label>
        </div>
        <div class="row">
          <label>
            reprocess
            <select name="reprocess">
              <option value="none" selected={f.reprocess === 'none'}>
                none: leave existing runs alone
              </option>
              <option value="failed" selected={f.reprocess === 'failed'}>
                failed: run failed runs again
              </option>
              <option value="completed" selected={f.reprocess === 'completed'}>
                completed: run failed and successful runs again
              </option>
            </select>
          </label>
          <label>
            max active runs <input name="max_active_runs" type="number" min="1" value={f.maxActiveRuns} />
          </label>
          <label class="check">
            <input type="checkbox" name="backwards" value="1" checked={f.backwards} /> newest date first
          </label>
        </div>
        <label>
          conf (JSON; empty: a created run gets {'{}'}, a cleared one keeps its own)
          <textarea name="conf" rows={3} spellcheck={false}>
            {f.conf}
          </textarea>
        </label>
        <button type="submit">Create backfill</button>
      </form>
    </details>
  );
}
