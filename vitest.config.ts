import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

// Integration tests (test/integration) run once per database driver: always on the embedded
// PGlite, and on a real PostgreSQL when TEST_DATABASE_URL (an admin URL: it creates and drops
// databases) is set. Tests of one driver's own behaviour live in test/pglite or test/postgres.
// Pipelines of operators (test/operators) need PostgreSQL databases to work on, so they run,
// on both drivers, when TEST_DATABASE_URL is set.
const integration = (driver: 'pglite' | 'postgres'): TestProjectInlineConfiguration => ({
  test: {
    name: driver,
    // Operators connect to real PostgreSQL databases (test/operators): with TEST_DATABASE_URL only.
    include: [
      'test/integration/**/*.test.ts',
      `test/${driver}/**/*.test.ts`,
      ...(process.env.TEST_DATABASE_URL ? ['test/operators/**/*.test.ts'] : []),
    ],
    env: { UPDRAFT_TEST_DRIVER: driver },
    globalSetup: [`test/support/global-${driver}.ts`],
    setupFiles: ['test/support/setup-db.ts'],
    // Generous: PGlite runs in WebAssembly and the machine has 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});

// The browser tests drive Chromium (CHROMIUM_PATH, or Debian's /usr/bin/chromium) through
// playwright-core against a real server on the embedded database.
const chromium = process.env.CHROMIUM_PATH ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
const browser: TestProjectInlineConfiguration = {
  test: {
    name: 'browser',
    include: ['test/browser/**/*.test.ts'],
    env: { UPDRAFT_TEST_DRIVER: 'pglite', CHROMIUM_PATH: chromium ?? '' },
    globalSetup: ['test/support/global-pglite.ts'],
    setupFiles: ['test/support/setup-db.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
};

export default defineConfig({
  test: {
    // Two files at a time on 2 cores: most tests wait on child processes and databases.
    // The whole suite took 502 s instead of ~650 s with one (vitest's default here).
    maxWorkers: 2,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      integration('pglite'),
      ...(process.env.TEST_DATABASE_URL ? [integration('postgres')] : []),
      ...(chromium ? [browser] : []),
    ],
  },
});
