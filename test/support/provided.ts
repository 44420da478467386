/** Values the vitest globalSetup files hand to the test workers (read with `inject`). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of a PGlite data-dir dump (uncompressed tar) of a migrated database. */
    pgliteTemplate: string;
    /** Name of a migrated PostgreSQL database that per-file databases are copied from. */
    postgresTemplate: string;
  }
}

export {};
