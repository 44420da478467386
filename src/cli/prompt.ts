import { createInterface } from 'node:readline/promises';

/** Asks a yes/no question on the terminal; anything but y or yes is no. */
export async function confirm(question: string, output: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
