/** vitest setupFile of the database projects: whatever a test file opened is closed and dropped after it. */
import { afterAll } from 'vitest';
import { cleanupTestDatabases } from './db.js';

afterAll(cleanupTestDatabases);
