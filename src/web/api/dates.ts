/**
 * The one timezone rule of the API: a date a client sends without an offset (a filter
 * such as execution_date_gte=2026-11-03, a trigger's logical_date) is a wall time in the
 * DAG's timezone where the route has a DAG, UTC otherwise; with Z or an offset it is that
 * instant. The CLI and the UI read dates by the same rule (parseDateInZone).
 */
import { findDagRow } from '../../catalog/dags.js';
import type { Db } from '../../db/client.js';
import { parseDateInZone, parseRangeEndInZone } from '../../schedule/index.js';
import { ApiError } from './common.js';

/** The stored DAG's timezone; UTC for no DAG, '~' (every DAG) or a DAG that does not exist (the route answers 404 for it). */
export async function timezoneOf(db: Db, dagId: string | undefined): Promise<string> {
  if (dagId === undefined || dagId === '~') return 'UTC';
  return (await findDagRow(db, dagId))?.timezone ?? 'UTC';
}

/**
 * The dates of `values` (checked by InputDate) as instants, read in the timezone of DAG
 * `dagId` (UTC without one); an undefined value stays undefined. A date that is unreadable there is a 400 naming its field.
 * The fields in `rangeEnds` end a range of days, as the CLI's --to: a day without a time
 * covers that whole day (parseRangeEndInZone). Filters such as `_lte` are instants.
 */
export async function readDates<K extends string>(
  db: Db,
  dagId: string | undefined,
  values: Partial<Record<K, string>>,
  rangeEnds: readonly NoInfer<K>[] = [],
): Promise<Partial<Record<K, Date>>> {
  const given = Object.entries(values).filter((entry): entry is [K, string] => typeof entry[1] === 'string');
  const timezone = given.length > 0 ? await timezoneOf(db, dagId) : 'UTC';
  const dates: Partial<Record<K, Date>> = {};
  for (const [field, text] of given) {
    try {
      dates[field] = rangeEnds.includes(field) ? parseRangeEndInZone(text, timezone) : parseDateInZone(text, timezone);
    } catch (error) {
      throw new ApiError(400, `${field}: ${(error as Error).message}`, field);
    }
  }
  return dates;
}
