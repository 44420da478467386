/** The pages' one stylesheet, inline in each page (small, no request). State colours follow Airflow's. */
import { STATE_COLOURS } from '../../state/vocabulary.js';
export { STATE_COLOURS };

export const STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#1d2430;background:#f7f8fa}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#1d2430;color:#fff}
header a{color:#cfd8e3;text-decoration:none}header a.current,header a:hover{color:#fff}
.brand{font-weight:700;color:#fff!important}nav{display:flex;gap:1rem;flex:1}.who{display:flex;gap:.5rem;align-items:center}
.tz{color:#cfd8e3;font-size:12px}.tz select{font-size:12px;max-width:16rem}
main{padding:1rem 1.2rem;max-width:1400px}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}
table{border-collapse:collapse;background:#fff;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{font-weight:600;background:#f0f2f5}a{color:#1565c0}code,pre{font-family:ui-monospace,monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #e3e6ea;padding:.6rem;overflow:auto;white-space:pre-wrap}
.state{display:inline-block;padding:0 .45rem;border-radius:3px;color:#fff;font-size:12px}
${Object.entries(STATE_COLOURS)
  .map(
    ([state, colour]) =>
      `.s-${state}{background:${colour}${['none', 'removed', 'queued'].includes(state) ? ';color:#333' : ''}}`,
  )
  .join('')}
.banner{background:#fdecea;border:1px solid #f5c2c0;padding:.6rem .8rem;margin-bottom:1rem}
.notice{background:#e8f4fd;border:1px solid #b6dcf7;padding:.6rem .8rem;margin-bottom:1rem}
form.inline{display:inline}button{font:inherit;padding:.2rem .7rem;cursor:pointer}
.tabs{display:flex;gap:1rem;margin-bottom:.8rem}.tabs a.current{font-weight:700;text-decoration:none;color:#1d2430}
.muted{color:#6b7685}
/* DAG list and DAG page (pages/dags.tsx, dag-*.tsx) */
.sq{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 1px;vertical-align:middle}.sq.s-none{outline:1px solid #cfd5dc}
.recent{white-space:nowrap}.small{font-size:12px}
.tag{display:inline-block;background:#e8edf3;color:#33415a;border-radius:9px;padding:0 .5rem;margin:0 .2rem .1rem 0;font-size:12px;text-decoration:none}
.toggle{border:1px solid #c7ced6;border-radius:10px;font-size:12px;padding:0 .6rem;background:#fff}.toggle.active{background:#e3f3e4;border-color:#8fc694}
.toggle.paused{background:#f1f2f4;color:#6b7685}.toggle:disabled{cursor:not-allowed;opacity:.75}
.filters{display:flex;gap:.6rem;align-items:center;margin-bottom:.8rem;flex-wrap:wrap}.filters input[type=search]{min-width:16rem}
input,select,textarea{font:inherit;padding:.2rem .4rem}
.dag-head{display:flex;gap:2rem;align-items:flex-start;flex-wrap:wrap;margin-bottom:1rem}
.dag-details{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:0}.dag-details dt{color:#6b7685}.dag-details dd{margin:0}
.dag-actions{flex:1;min-width:20rem}.dag-actions summary{cursor:pointer;font-weight:600}
form.trigger{display:flex;flex-direction:column;gap:.5rem;margin-top:.5rem;max-width:44rem}form.trigger label{display:flex;flex-direction:column;gap:.2rem}
form.trigger textarea{font-family:ui-monospace,monospace;font-size:12.5px}form.trigger button{align-self:flex-start}
table.params{font-size:12.5px}
table.grid{width:auto}table.grid th,table.grid td{padding:.15rem .2rem;border-bottom:1px solid #f0f2f5}
table.grid td.gtask{padding-right:1rem;white-space:nowrap}td.gcol,th.gcol{text-align:center;width:16px}
.dag-graph{background:#fff;border:1px solid #e3e6ea;max-width:100%;height:auto}.dag-graph a:hover rect{stroke-width:4}
form.login{display:flex;flex-direction:column;gap:.6rem;max-width:20rem}form.login label{display:flex;flex-direction:column;gap:.2rem}
form.login button{align-self:flex-start}.pager{margin-top:.6rem}
table.details{width:auto;min-width:30rem}table.details th{width:11rem}.crumbs{margin:-.6rem 0 .8rem;color:#6b7685}
.actions{margin:.8rem 0}form.clear{margin:.8rem 0;display:flex;gap:.6rem;align-items:center}form.filters{margin-bottom:.8rem}
.gantt-box{overflow-x:auto}svg.gantt{background:#fff;border:1px solid #e3e6ea}svg.gantt .gantt-bar:hover{opacity:.8}
pre.log{max-height:36rem}.log-line.l-error{color:#c62828}.log-line.l-warn{color:#a15c00}.log-line.l-debug{color:#6b7685}
/* Backfills (pages/backfills.tsx, backfill-views.tsx); the states of a backfill beside those of runs */
.s-paused{background:#fbc02d;color:#333}.s-completed{background:#2e7d32}.s-cancelled{background:#6d4c41}
.bf-bar{display:flex;height:16px;width:100%;max-width:44rem;background:#eeeeee;border:1px solid #cfd5dc;border-radius:3px;overflow:hidden}
.bf-bar span{display:block;height:100%}.bf-bar.small{display:inline-flex;height:10px;width:8rem;vertical-align:middle}
td.bf-progress,td.range{white-space:nowrap}.failed-count{color:#c62828;font-weight:600}.bf-state{margin:.2rem 0 .5rem}
table.bf-counts{width:auto;margin:.6rem 0}table.bf-counts th,table.bf-counts td{text-align:right;padding:.2rem .7rem}
form.backfill .row{display:flex;gap:1rem;flex-wrap:wrap;align-items:flex-end}form.backfill label.check{flex-direction:row;align-items:center;gap:.3rem}
iframe.report{width:100%;height:70vh;border:1px solid #e3e6ea;background:#fff}
`;
