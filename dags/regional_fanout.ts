// Fan-out / fan-in: one task per region runs in parallel, and the merge runs once
// every region has finished, even if some failed (trigger rule 'all_done'). A
// final check only runs when nothing upstream failed.
import { dag } from 'updraft';

const REGIONS = ['eu', 'us', 'apac'] as const;

export default dag(
  {
    id: 'regional_fanout',
    description: 'Refresh each region in parallel, then merge what arrived',
    schedule: '@hourly',
    startDate: '2026-01-01T00:00:00Z',
    catchup: false,
    maxActiveRuns: 2,
    maxActiveTasks: 4,
    defaults: { retries: 1, retryDelay: '1m', timeout: '5m' },
    tags: ['example'],
    pausedAtCreation: false, // an example: runs as soon as Updraft starts
  },
  (t) => {
    const start = t.task('list_sources', async () => ({ regions: [...REGIONS] }));

    const refreshes = REGIONS.map((region) =>
      t.task(`refresh_${region}`, { priority: region === 'eu' ? 10 : 1 }, async (ctx) => {
        ctx.log.info(`refreshing ${region} for ${ctx.logicalDate.toISOString()}`);
        return { region, rows: region.length * 1000 };
      }),
    );

    const merge = t.task('merge', { triggerRule: 'all_done' }, async (ctx) => {
      const results = await Promise.all(refreshes.map((r) => ctx.pull(r).catch(() => null)));
      return { merged: results.flatMap((r) => (r ? [r.region] : [])) };
    });

    const verify = t.task('verify', { triggerRule: 'none_failed_min_one_success' }, async (ctx) => {
      const { merged } = await ctx.pull(merge);
      return { complete: merged.length === REGIONS.length };
    });

    start.then(refreshes);
    merge.after(refreshes).then(verify);
  },
);
