#!/usr/bin/env node
// Entry point of the `updraft` command: Updraft runs from its TypeScript sources
// through tsx, so there is no build step between a checkout and a running scheduler.
import { existsSync } from 'node:fs';

// Settings in ./.env (KEY=value lines) apply unless the environment sets them already:
// where UPDRAFT_SECRET_KEY and UPDRAFT_CONN_<NAME> usually live (see docs/configuration.md).
const envFile = process.env.UPDRAFT_ENV_FILE ?? '.env';
if (existsSync(envFile)) process.loadEnvFile(envFile);

await import('../src/loader/register.mjs');
await import('../src/cli/main.ts');
