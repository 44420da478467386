import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT,
  formatPasswordHash,
  generatePassword,
  hashPassword,
  parsePasswordHash,
  verifyPassword,
} from '../../src/auth/passwords.js';
import { safeEqual } from '../../src/auth/secrets.js';
import { loadConfig, readAccessFor, withHost } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

// Cheap parameters keep the unit tests fast; the stored format carries them.
const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('are scrypt$N$r$p$salt$hash with the default parameters, and verify', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(parsePasswordHash(stored)).toMatchObject(DEFAULT_SCRYPT);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salt every hash: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', FAST), hashPassword('same password', FAST)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('verify with the parameters stored in the hash, not the current defaults', async () => {
    const stored = await hashPassword('older hash', FAST);
    expect(stored.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await verifyPassword('older hash', stored)).toBe(true);
  });

  it('treat unicode passwords in either normal form alike', async () => {
    const stored = await hashPassword('caf\u00e9-password', FAST);
    expect(await verifyPassword('cafe\u0301-password', stored)).toBe(true);
  });

  it('round-trip through parse and format', async () => {
    const stored = await hashPassword('round trip', FAST);
    expect(formatPasswordHash(parsePasswordHash(stored))).toBe(stored);
  });

  it('refuse malformed or dangerous stored hashes, naming the part, and match nothing', async () => {
    const good = await hashPassword('x-password', FAST);
    const [, , , , salt, hash] = good.split('$');
    expect(() => parsePasswordHash('bcrypt$2b$10$abc')).toThrow("expected 'scrypt$N$r$p$salt$hash'");
    expect(() => parsePasswordHash(`scrypt$1000$8$1$${salt}$${hash}`)).toThrow('N must be a power of two');
    expect(() => parsePasswordHash(`scrypt$${2 ** 24}$8$1$${salt}$${hash}`)).toThrow('N must be a power of two up to');
    expect(() => parsePasswordHash(`scrypt$1024$0$1$${salt}$${hash}`)).toThrow('r must be between');
    expect(() => parsePasswordHash(`scrypt$1024$8$99$${salt}$${hash}`)).toThrow('p must be between');
    expect(() => parsePasswordHash(`scrypt$1024$8$1$${salt}$not+base64`)).toThrow('base64url');
    expect(() => parsePasswordHash(`scrypt$1024$8$1$AAAA$${hash}`)).toThrow('too short');
    expect(await verifyPassword('x-password', `scrypt$${2 ** 24}$8$1$${salt}$${hash}`)).toBe(false);
    expect(await verifyPassword('x-password', '')).toBe(false);
  });
});

describe('generated passwords', () => {
  it('are readable (no 0/O/1/l), at least 16 characters, and differ', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const password = generatePassword();
      expect(password).toMatch(/^[a-km-np-z2-9]{5}(-[a-km-np-z2-9]{5}){3}$/);
      expect(password.length).toBeGreaterThanOrEqual(16);
      seen.add(password);
    }
    expect(seen.size).toBe(50);
  });
});

describe('safeEqual', () => {
  it('compares strings of any lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});

describe('auth settings', () => {
  it('default to open reading and 12h sessions', () => {
    expect(loadConfig({}, '/tmp')).toMatchObject({ authRead: 'open', sessionTtlMs: 12 * 3_600_000 });
    expect(loadConfig({ UPDRAFT_AUTH_READ: 'closed', UPDRAFT_SESSION_TTL: '30m' }, '/tmp')).toMatchObject({
      authRead: 'closed',
      sessionTtlMs: 1_800_000,
    });
  });

  it('close reading on any address but loopback unless UPDRAFT_AUTH_READ says otherwise', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.1.1'])
      expect(readAccessFor(host, undefined), host).toBe('open');
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'updraft.example.com', ''])
      expect(readAccessFor(host, undefined), host).toBe('closed');
    expect(readAccessFor('0.0.0.0', 'open')).toBe('open');
    expect(readAccessFor('127.0.0.1', 'closed')).toBe('closed');
    expect(loadConfig({ UPDRAFT_HOST: '0.0.0.0' }, '/tmp')).toMatchObject({ authRead: 'closed' });
    expect(loadConfig({ UPDRAFT_HOST: '0.0.0.0', UPDRAFT_AUTH_READ: 'open' }, '/tmp')).toMatchObject({
      authRead: 'open',
    });
    // `standalone --host 0.0.0.0` with the default UPDRAFT_HOST.
    expect(withHost(loadConfig({}, '/tmp'), '0.0.0.0')).toMatchObject({ host: '0.0.0.0', authRead: 'closed' });
    expect(withHost(loadConfig({ UPDRAFT_AUTH_READ: 'open' }, '/tmp'), '0.0.0.0')).toMatchObject({ authRead: 'open' });
  });

  it('name the variable that is wrong', () => {
    expect(() => loadConfig({ UPDRAFT_AUTH_READ: 'public' }, '/tmp')).toThrow(ConfigError);
    expect(() => loadConfig({ UPDRAFT_AUTH_READ: 'public' }, '/tmp')).toThrow(
      "UPDRAFT_AUTH_READ: expected 'open' or 'closed'",
    );
    expect(() => loadConfig({ UPDRAFT_SESSION_TTL: 'soon' }, '/tmp')).toThrow('UPDRAFT_SESSION_TTL: invalid duration');
    expect(() => loadConfig({ UPDRAFT_SESSION_TTL: '10s' }, '/tmp')).toThrow(
      'UPDRAFT_SESSION_TTL: must be at least 1m',
    );
    expect(() => loadConfig({ UPDRAFT_SESSION_TTL: '500d' }, '/tmp')).toThrow(
      'UPDRAFT_SESSION_TTL: must be at most 400d',
    );
  });
});
