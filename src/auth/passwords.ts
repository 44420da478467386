/**
 * Password hashes: scrypt (node:crypto) with a random salt, stored with its parameters
 * so that they can be raised later without invalidating the hashes already stored:
 *
 *   scrypt$<N>$<r>$<p>$<salt, base64url>$<hash, base64url>
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * 2^15 x 8 uses 32 MiB and takes about 60 ms on the 2-core test machine: slow enough to make
 * guessing expensive, fast enough for a login. OWASP's floor for scrypt is 2^17 x 8 (128 MiB),
 * too much memory for several logins at once on a small server.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Stored hashes with larger parameters are refused: they would tie up memory and CPU. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

/** Reads a stored hash; throws an Error naming the part that is wrong. */
export function parsePasswordHash(stored: string): ParsedHash {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new Error("password hash: expected 'scrypt$N$r$p$salt$hash'");
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^\d{1,8}$/.test(v!) ? Number(v) : NaN)) as [number, number, number];
  if (!(N >= 2 && N <= MAX_N && (N & (N - 1)) === 0))
    throw new Error(`password hash: N must be a power of two up to ${MAX_N}`);
  if (!(r >= 1 && r <= MAX_R)) throw new Error(`password hash: r must be between 1 and ${MAX_R}`);
  if (!(p >= 1 && p <= MAX_P)) throw new Error(`password hash: p must be between 1 and ${MAX_P}`);
  const [salt, hash] = parts.slice(4) as [string, string];
  if (!B64URL.test(salt) || !B64URL.test(hash)) throw new Error('password hash: salt and hash must be base64url');
  const parsed = { N, r, p, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
  if (parsed.salt.length < 8 || parsed.hash.length < 16) throw new Error('password hash: salt or hash too short');
  return parsed;
}

export function formatPasswordHash(h: ParsedHash): string {
  return ['scrypt', h.N, h.r, h.p, h.salt.toString('base64url'), h.hash.toString('base64url')].join('$');
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, KEY_BYTES);
  return formatPasswordHash({ ...params, salt, hash });
}

/** Whether `password` matches `stored`; compared in constant time. An unreadable hash matches nothing. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  let parsed: ParsedHash;
  try {
    parsed = parsePasswordHash(stored);
  } catch {
    return false;
  }
  const candidate = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}

/** Letters and digits that cannot be mistaken for one another (no 0/O, 1/l/I). */
const READABLE = 'abcdefghijkmnpqrstuvwxyz23456789';

/** A random password to read out and type: 4 groups of 5, e.g. 'k7mpw-q2xhd-...' (100 bits). */
export function generatePassword(): string {
  const groups = Array.from({ length: 4 }, () =>
    Array.from({ length: 5 }, () => READABLE[randomInt(READABLE.length)]).join(''),
  );
  return groups.join('-');
}

/** Shortest password accepted from a person. */
export const MIN_PASSWORD_LENGTH = 8;
