// Dynamic task mapping: list the day's files, process each in its own task instance
// (one per file, as many as the list holds, decided when the run gets there), then
// reduce: the report pulls the mapped task and gets every instance's result in order.
import { dag } from 'updraft';

interface FileStats {
  file: string;
  rows: number;
}

export default dag(
  {
    id: 'mapped_files',
    description: 'List files, process each in a mapped task instance, sum the rows',
    schedule: '@daily',
    startDate: '2026-01-01',
    tags: ['example', 'mapping'],
  },
  (t) => {
    const list = t.task('list_files', async (ctx) => {
      const day = ctx.logicalDate.toISOString().slice(0, 10);
      // A real DAG would list a bucket or a directory; an empty list skips the rest.
      return ['orders', 'refunds', 'customers'].map((name) => `${day}/${name}.csv`);
    });
    const process = t.map(
      'process_file',
      { over: list, maxLength: 100, retries: 1 },
      async (ctx, file: string): Promise<FileStats> => {
        ctx.log.info('instance %d processes %s', ctx.mapIndex, file);
        return { file, rows: file.length * 10 };
      },
    );
    const total = t.task('total_rows', async (ctx) => {
      const stats = await ctx.pull(process);
      return { files: stats.length, rows: stats.reduce((sum, s) => sum + s.rows, 0) };
    });
    process.then(total);
  },
);
