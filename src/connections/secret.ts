/**
 * Encryption at rest for connection secrets: AES-256-GCM with a key derived from
 * UPDRAFT_SECRET_KEY. Stored form: `v1.<iv>.<tag>.<ciphertext>` (base64url), so a
 * later key scheme can be told apart.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { ConfigError, UpdraftError } from '../errors.js';

const VERSION = 'v1';
const SALT = 'updraft.connections.v1';
const derived = new Map<string, Buffer>();

/** A new random key for UPDRAFT_SECRET_KEY. */
export function generateSecretKey(): string {
  return randomBytes(32).toString('base64url');
}

function keyFrom(secretKey: string | undefined): Buffer {
  if (!secretKey) {
    throw new ConfigError(
      'UPDRAFT_SECRET_KEY is not set: it encrypts the connections stored in the database. ' +
        'Generate one with `updraft connections generate-key` and set it in the environment (or in .env) of every Updraft process.',
    );
  }
  if (secretKey.length < 16)
    throw new ConfigError(
      'UPDRAFT_SECRET_KEY is too short: use at least 16 characters (`updraft connections generate-key` makes one)',
    );
  let key = derived.get(secretKey);
  if (!key) {
    // scrypt: a passphrase-like key still costs an attacker real work per guess.
    key = scryptSync(secretKey, SALT, 32);
    derived.set(secretKey, key);
  }
  return key;
}

/** `context` (the connection's name) is authenticated with the secret: a value moved to another name does not decrypt. */
export function encrypt(plain: string, secretKey: string | undefined, context: string): string {
  const key = keyFrom(secretKey);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [
    VERSION,
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    body.toString('base64url'),
  ].join('.');
}

export function decrypt(stored: string, secretKey: string | undefined, context: string, what: string): string {
  const key = keyFrom(secretKey);
  const [version, iv, tag, body] = stored.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined)
    throw new UpdraftError(`${what}: the stored secret is not in a known format`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new ConfigError(
      `${what}: cannot decrypt the stored secret with this UPDRAFT_SECRET_KEY (was it encrypted with another key, or for another name?)`,
    );
  }
}
