#!/usr/bin/env node
// Entry point of the `updraft` command: Updraft runs from its TypeScript sources
// through tsx, so there is no build step between a checkout and a running scheduler.
import '../src/loader/register.mjs';

await import('../src/cli/main.ts');
