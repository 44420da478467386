import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a migration into drizzle/ from src/db/schema.ts.
// Generation only diffs against the snapshots in drizzle/meta: no database is needed.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
