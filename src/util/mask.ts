/**
 * Keeping connection secrets out of everything printed. URLs are shown with their
 * password replaced; any password this process has resolved is also scrubbed from
 * log lines and error messages (a driver error or a task's own log may echo it).
 */

const MASK = '***';
const known = new Set<string>();

/** `postgres://app:s3cret@db/x` -> `postgres://app:***@db/x`. Text that is no URL is returned as is. */
export function maskUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (a typo, a libpq keyword string): mask what looks like a password all the same.
    return maskPatterns(url);
  }
  if (parsed.password) parsed.password = MASK;
  const password = parsed.searchParams.get('password');
  if (password) parsed.searchParams.set('password', MASK);
  // URL encodes the mask; show it plainly.
  return parsed.toString().replaceAll(encodeURIComponent(MASK), MASK);
}

/** Remember a secret so that `redact` removes it wherever it shows up. */
export function rememberSecret(secret: string): void {
  if (secret.length < 3) return; // masking 'a' everywhere would mangle every text
  known.add(secret);
}

/** Remember the password of `url`; a value that is no URL is remembered whole. */
export function rememberSecretsOf(url: string): void {
  try {
    const parsed = new URL(url);
    for (const secret of [parsed.password, parsed.searchParams.get('password') ?? '']) {
      rememberSecret(secret);
      rememberSecret(decodeURIComponent(secret));
    }
  } catch {
    rememberSecret(url);
  }
}

/** Remember the secrets in Updraft's own settings: connection URLs, DATABASE_URL, UPDRAFT_SECRET_KEY. */
export function rememberEnvironmentSecrets(env: Record<string, string | undefined> = process.env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (name.startsWith('UPDRAFT_CONN_') || name === 'DATABASE_URL') rememberSecretsOf(value);
    if (name === 'UPDRAFT_SECRET_KEY') rememberSecret(value);
  }
}

/** `text` with URL passwords and every remembered secret replaced by ***. */
export function redact(text: string): string {
  let out = maskPatterns(text);
  for (const secret of known) if (out.includes(secret)) out = out.replaceAll(secret, MASK);
  return out;
}

/** `//user:password@` and `password=...` (libpq keywords) with the password masked. */
function maskPatterns(text: string): string {
  return text
    .replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, `$1${MASK}@`)
    .replace(/(\bpassword\s*=\s*)('[^']*'|[^\s&]+)/gi, `$1${MASK}`);
}
