import { InvalidArgumentError } from 'commander';

/** Parser for a flag that takes a positive whole number; the error names the flag. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${flag} takes a positive whole number, got '${value}'`);
    return n;
  };
}
