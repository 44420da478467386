/** zod fields shared by the operators' configs. */
import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from '../connection-name.js';

/** A connection name: UPDRAFT_CONN_<NAME> in the environment or stored with `updraft connections add`. */
export const connField = z.string().regex(CONNECTION_NAME, { message: `a connection name: ${CONNECTION_NAME_HINT}` });

/** A table, optionally schema-qualified: 'orders' or 'staging.orders'. Quoted with quoteIdent, never spliced raw. */
export const tableField = z.string().regex(/^[^.\s][^.]*(\.[^.\s][^.]*)?$/, {
  message: "a table name, optionally with its schema: 'orders' or 'staging.orders'",
});

export const columnField = z
  .string()
  .min(1, { message: 'is empty' })
  .max(63, { message: 'a PostgreSQL name has at most 63 characters' });
export const columnsField = z.array(columnField).min(1, { message: 'name at least one column' });
