// Branching: a branch task picks the path by the run's logical date. Weekdays load the
// full day, weekends only a light summary; the other path is skipped and the report
// joins whichever ran (none_failed_min_one_success: a skipped upstream does not stop it).
import { dag } from 'updraft';

export default dag(
  {
    id: 'branching',
    description: 'Weekday or weekend path, chosen by a branch, joined by the report',
    schedule: '@daily',
    startDate: '2026-01-01',
    tags: ['example', 'branching'],
  },
  (t) => {
    const pick = t.branch('weekday_or_weekend', async (ctx) => {
      const day = ctx.logicalDate.getUTCDay();
      ctx.log.info('logical date %s is day %d of the week', ctx.logicalDate.toISOString(), day);
      // The task(s) to follow: a list of handles or ids of direct downstream tasks. (An async
      // function cannot return a bare handle in TypeScript: a handle has a then() method.)
      return day === 0 || day === 6 ? [weekend] : [weekday];
    });
    const weekday = t.task('weekday_load', async (ctx) => ({
      mode: 'full',
      day: ctx.logicalDate.toISOString().slice(0, 10),
    }));
    const weekend = t.task('weekend_summary', async (ctx) => ({
      mode: 'summary',
      day: ctx.logicalDate.toISOString().slice(0, 10),
    }));
    const report = t.task('report', { triggerRule: 'none_failed_min_one_success' }, async (ctx) => {
      const followed = await ctx.pull(pick);
      ctx.log.info('the branch followed %s', followed.join(', '));
      return { followed };
    });
    pick.then([weekday, weekend]);
    t.chain([weekday, weekend], report);
  },
);
