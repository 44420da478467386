import { UpdraftError } from '../errors.js';

/**
 * A change to users or tokens that conflicts with what is stored: the username is taken,
 * the token is already revoked, the last admin would go. The HTTP API answers 409.
 */
export class AuthConflictError extends UpdraftError {}
