/** The span of data a run covers: [start, end). For @once and manual-only DAGs start = end. */
export interface DataInterval {
  start: Date;
  end: Date;
}

export interface DagRunInfo {
  /** The run's logical date (Airflow's logical_date): the interval start for scheduled runs. */
  logicalDate: Date;
  interval: DataInterval;
  /** When the run becomes due: the interval end for cron schedules, the start date for @once, the trigger time for manual runs. */
  runAfter: Date;
}

/** What the schedule helpers need of a DAG. Dates are instants; see parseDateInZone for reading them. */
export interface ScheduleSpec {
  /** A 5-field cron, a preset (@hourly, @daily, ..., @once), or null for manual runs only. */
  schedule: string | null;
  /** IANA zone the cron is read in, e.g. 'Europe/Berlin'. */
  timezone: string;
  /** Required for a scheduled DAG: without it nothing is scheduled. */
  startDate: Date | null;
  /** No run whose interval starts after it. */
  endDate: Date | null;
  /** true: every interval since startDate; false: only the latest complete one. */
  catchup: boolean;
}
