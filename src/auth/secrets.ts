/** Random values and their digests for tokens, session cookies and CSRF tokens. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `bytes` random bytes as base64url: 32 bytes give 43 characters, 256 bits. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The sha256 of a high-entropy secret, as stored. A fast hash is enough for 256 random bits;
 * passwords, which people choose, get scrypt instead (passwords.ts).
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Equality of two strings in time independent of where they differ (and of their lengths' match). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
