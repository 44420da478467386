import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

// Integration tests (test/integration) run once per database driver: always on the embedded
// PGlite, and on a real PostgreSQL when TEST_DATABASE_URL (an admin URL: it creates and drops
// databases) is set. Tests of one driver's own behaviour live in test/pglite or test/postgres.
const integration = (driver: 'pglite' | 'postgres'): TestProjectInlineConfiguration => ({
  test: {
    name: driver,
    include: ['test/integration/**/*.test.ts', `test/${driver}/**/*.test.ts`],
    env: { UPDRAFT_TEST_DRIVER: driver },
    globalSetup: [`test/support/global-${driver}.ts`],
    setupFiles: ['test/support/setup-db.ts'],
    // Generous: PGlite runs in WebAssembly and the machine has 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      integration('pglite'),
      ...(process.env.TEST_DATABASE_URL ? [integration('postgres')] : []),
    ],
  },
});
