// Manual only (schedule: null): run it with
//   updraft dags trigger adhoc_export --conf '{"region": "us", "limit": 50}'
// Params are typed and checked against the conf; defaults fill the rest.
import { dag, FailTask } from 'updraft';

export default dag(
  {
    id: 'adhoc_export',
    description: 'Export a region on demand',
    schedule: null,
    params: {
      region: { type: 'string', enum: ['eu', 'us', 'apac'], default: 'eu', description: 'Region to export' },
      limit: { type: 'integer', default: 100, description: 'Rows at most' },
      dryRun: { type: 'boolean', default: false },
    },
    tags: ['example', 'manual'],
    pausedAtCreation: false, // an example: triggered runs start at once
  },
  (t) => {
    const prepare = t.task('prepare', async (ctx) => {
      if (ctx.params.limit > 10_000) throw new FailTask(`limit ${ctx.params.limit} is above 10000: not retrying`);
      return { region: ctx.params.region, limit: ctx.params.limit };
    });

    const exportRows = t.task('export', { timeout: '15m' }, async (ctx) => {
      const { region, limit } = await ctx.pull(prepare);
      if (ctx.params.dryRun) {
        ctx.log.info(`dry run: would export ${limit} rows of ${region}`);
        return { exported: 0 };
      }
      return { exported: limit };
    });

    prepare.then(exportRows);
  },
);
