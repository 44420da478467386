import { describe, expect, it } from 'vitest';
import { maskUrl, redact, rememberEnvironmentSecrets, rememberSecretsOf } from '../../src/util/mask.js';
import { decrypt, encrypt, generateSecretKey } from '../../src/connections/secret.js';

describe('maskUrl', () => {
  it('hides the password of a URL and of its query string', () => {
    expect(maskUrl('postgres://app:s3cret@db:5432/shop')).toBe('postgres://app:***@db:5432/shop');
    expect(maskUrl('postgres://app@db/shop?password=s3cret&sslmode=require')).toBe(
      'postgres://app@db/shop?password=***&sslmode=require',
    );
    expect(maskUrl('postgres://app@db/shop')).toBe('postgres://app@db/shop');
  });

  it('masks user:password@ in text that is not a valid URL', () => {
    expect(maskUrl('postgres://app:p@ss w0rd@db/shop')).toBe('postgres://app:***@db/shop');
  });
});

describe('redact', () => {
  it('removes passwords of URLs in any text, and remembered secrets wherever they appear', () => {
    expect(redact('connect to postgres://u:pw123@h/db failed')).toBe('connect to postgres://u:***@h/db failed');
    rememberSecretsOf('postgres://u:Tr0ub4dor%263@h/db');
    expect(redact('the password is Tr0ub4dor&3, encoded Tr0ub4dor%263')).toBe('the password is ***, encoded ***');
  });

  it('knows the secrets in the environment Updraft reads', () => {
    rememberEnvironmentSecrets({
      UPDRAFT_CONN_SHOP: 'postgres://a:shop-pass-1@h/x',
      UPDRAFT_SECRET_KEY: 'key-material-42',
      HOME: '/root',
    });
    expect(redact('shop-pass-1 key-material-42 /root')).toBe('*** *** /root');
  });
});

describe('secret encryption', () => {
  const key = generateSecretKey();

  it('round-trips, with a new IV every time', () => {
    const a = encrypt('postgres://u:pw@h/db', key, 'shop');
    expect(a).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(encrypt('postgres://u:pw@h/db', key, 'shop')).not.toBe(a);
    expect(decrypt(a, key, 'shop', "connection 'x'")).toBe('postgres://u:pw@h/db');
  });

  it('refuses another key, a tampered value, a missing or short key, with what to do', () => {
    const stored = encrypt('secret', key, 'shop');
    expect(() => decrypt(stored, generateSecretKey(), 'shop', "connection 'x'")).toThrow(
      "connection 'x': cannot decrypt the stored secret with this UPDRAFT_SECRET_KEY",
    );
    const tampered = stored.slice(0, -2) + (stored.endsWith('A') ? 'BB' : 'AA');
    expect(() => decrypt(tampered, key, 'shop', "connection 'x'")).toThrow('cannot decrypt');
    // Moved to another connection's row, it does not decrypt.
    expect(() => decrypt(stored, key, 'warehouse', "connection 'warehouse'")).toThrow('cannot decrypt');
    expect(() => encrypt('secret', undefined, 'shop')).toThrow('UPDRAFT_SECRET_KEY is not set');
    expect(() => encrypt('secret', 'short', 'shop')).toThrow('UPDRAFT_SECRET_KEY is too short');
  });
});

describe('masking what is not a URL', () => {
  it('masks password= keywords and user:password@ in text that does not parse', () => {
    expect(maskUrl("host=db password='se cret' user=app")).toBe('host=db password=*** user=app');
    expect(maskUrl('host=db password=hunter2')).toBe('host=db password=***');
    expect(redact('conninfo host=db PASSWORD=hunter2 failed')).toBe('conninfo host=db PASSWORD=*** failed');
  });
});
