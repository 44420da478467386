/**
 * A run's Gantt chart as inline SVG: one row per task, a bar from start to end (to now
 * while it runs) in its state's colour, a lighter bar before it for the wait from
 * scheduled (or queued) to started, and a time axis whose ticks are offsets from the
 * earliest moment shown.
 */
import { STATE_COLOURS } from '../style.js';
import { fmtTime } from './kit.js';
import { formatElapsed } from '../../../util/duration.js';

export interface GanttTask {
  taskId: string;
  state: string | null;
  scheduledAt: Date | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

const LABEL = 190;
const CHART = 760;
const ROW = 22;
const TOP = 24;
/** Tick steps in ms: the first that gives at most 8 ticks is used. */
const STEPS = [
  10, 25, 50, 100, 250, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3,
  21600e3, 43200e3, 86400e3,
];

function tickLabel(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 1000) return `+${ms}ms`;
  if (ms < 60_000) return `+${ms / 1000}s`;
  if (ms < 3600_000) return `+${Math.floor(ms / 60_000)}m${ms % 60_000 ? `${(ms % 60_000) / 1000}s` : ''}`;
  return `+${Math.floor(ms / 3600_000)}h${ms % 3600_000 ? `${Math.round((ms % 3600_000) / 60_000)}m` : ''}`;
}

export function Gantt({ tasks, now }: { tasks: GanttTask[]; now: Date }) {
  const waitFrom = (t: GanttTask) => t.scheduledAt ?? t.queuedAt;
  const end = (t: GanttTask) =>
    t.endedAt ?? (t.startedAt && (t.state === 'running' || t.state === 'queued') ? now : t.startedAt);
  const starts = tasks.flatMap((t) =>
    [waitFrom(t), t.startedAt].filter((d): d is Date => d !== null).map((d) => d.getTime()),
  );
  if (starts.length === 0) return <p class="muted">No task has started yet.</p>;
  const t0 = Math.min(...starts);
  const t1 = Math.max(t0 + 1, ...tasks.map((t) => end(t)?.getTime() ?? 0));
  const total = t1 - t0;
  const x = (ms: number) => LABEL + ((ms - t0) / total) * CHART;
  const step = STEPS.find((s) => total / s <= 8) ?? STEPS[STEPS.length - 1]!;
  const ticks = Array.from({ length: Math.floor(total / step) + 1 }, (_, i) => i * step);
  const height = TOP + tasks.length * ROW + 4;
  return (
    <svg
      class="gantt"
      xmlns="http://www.w3.org/2000/svg"
      width={LABEL + CHART + 40}
      height={height}
      viewBox={`0 0 ${LABEL + CHART + 40} ${height}`}
      role="img"
    >
      <title data-times="">Gantt chart from {fmtTime(new Date(t0))}</title>
      {ticks.map((ms) => (
        <g class="tick">
          <line x1={x(t0 + ms)} x2={x(t0 + ms)} y1={TOP - 6} y2={height} stroke="#e3e6ea" />
          <text x={x(t0 + ms)} y={TOP - 10} text-anchor="middle" font-size="11" fill="#6b7685">
            {tickLabel(ms)}
          </text>
        </g>
      ))}
      {tasks.map((t, i) => {
        const y = TOP + i * ROW;
        const colour = STATE_COLOURS[t.state ?? 'none'] ?? STATE_COLOURS.none!;
        const waitStart = waitFrom(t);
        const stop = end(t);
        return (
          <g class="gantt-row" data-task={t.taskId}>
            <text x={LABEL - 8} y={y + 15} text-anchor="end" font-size="12" fill="#1d2430">
              {t.taskId}
            </text>
            {waitStart && t.startedAt && t.startedAt.getTime() > waitStart.getTime() ? (
              <rect
                class="gantt-wait"
                x={x(waitStart.getTime())}
                y={y + 4}
                width={Math.max(1, x(t.startedAt.getTime()) - x(waitStart.getTime()))}
                height={ROW - 8}
                fill={colour}
                opacity="0.3"
              >
                <title>
                  {t.taskId}: waited {formatElapsed(t.startedAt.getTime() - waitStart.getTime())}
                </title>
              </rect>
            ) : null}
            {t.startedAt && stop ? (
              <rect
                class="gantt-bar"
                data-task={t.taskId}
                data-state={t.state ?? 'none'}
                x={x(t.startedAt.getTime())}
                y={y + 3}
                width={Math.max(2, x(stop.getTime()) - x(t.startedAt.getTime()))}
                height={ROW - 6}
                rx="2"
                fill={colour}
              >
                <title data-times="">
                  {t.taskId}: {t.state ?? 'none'}, {fmtTime(t.startedAt)} – {t.endedAt ? fmtTime(t.endedAt) : 'now'} (
                  {formatElapsed(stop.getTime() - t.startedAt.getTime())})
                </title>
              </rect>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}
