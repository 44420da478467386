/** Connection names: a letter, then letters, digits or _; case does not matter ('Shop' is 'shop'). */
export const CONNECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
export const CONNECTION_NAME_HINT = 'a letter, then letters, digits or _ (at most 63)';
