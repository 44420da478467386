/**
 * Date flags and arguments of the CLI. The one rule (DATE_INPUT_RULE): a date without an
 * offset is read in the DAG's timezone, so it is read only once the DAG is known; its
 * syntax is checked when the command line is parsed, so that a bad date is reported
 * (exit 2) like any bad flag.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { InputError } from '../errors.js';
import { DATE_INPUT_RULE, parseDateInZone, parseRangeEndInZone } from '../schedule/index.js';

/** A date as typed, with the flag or argument it came from. */
export interface DateArg {
  what: string;
  text: string;
}

/** Commander parser of a date flag or argument named `what` ('--from', 'date'). */
export function dateArg(what: string) {
  return (text: string): DateArg => {
    try {
      parseDateInZone(text, 'UTC', "the DAG's timezone");
    } catch (error) {
      throw new InvalidArgumentError(`${what}: ${(error as Error).message}`);
    }
    return { what, text };
  };
}

/**
 * The instant of a date argument in `timezone` (the DAG's). As the last bound of a range
 * (`rangeEnd`), a day without a time covers that whole day, as in a backfill.
 */
export function readDate(arg: DateArg, timezone: string, rangeEnd?: boolean): Date;
export function readDate(arg: DateArg | undefined, timezone: string, rangeEnd?: boolean): Date | undefined;
export function readDate(arg: DateArg | undefined, timezone: string, rangeEnd = false): Date | undefined {
  if (!arg) return undefined;
  try {
    return rangeEnd ? parseRangeEndInZone(arg.text, timezone) : parseDateInZone(arg.text, timezone);
  } catch (error) {
    throw new InputError(`${arg.what}: ${(error as Error).message}`, arg.what, { cause: error });
  }
}

/** Adds the date rule, in its one wording, to the help of a command that takes dates. */
export function withDateRule(command: Command): Command {
  return command.addHelpText('after', `\nDates: ${DATE_INPUT_RULE}.`);
}
