import { describe, expect, it } from 'vitest';
import { pools } from '../../src/db/schema.js';
import { ConfigError } from '../../src/errors.js';
import { testChildDatabase } from '../support/db.js';

describe('the embedded database', () => {
  it('lets one process at a time open the embedded database', async () => {
    const child = await testChildDatabase();
    const first = await child.open();
    const second = child.open();
    await expect(second).rejects.toThrow(ConfigError);
    await expect(second).rejects.toThrow(/is in use by another Updraft process; stop it, or set DATABASE_URL/);
    await first.close();
    const again = await child.open();
    expect(await again.db.select({ name: pools.name }).from(pools)).toEqual([{ name: 'default_pool' }]);
  });
});
