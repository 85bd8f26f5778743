import { Chalk, type ChalkInstance } from 'chalk';
import type { Writable } from 'node:stream';

/** Where a command writes: data to stdout, messages to stderr; colour only on a terminal without NO_COLOR. */
export interface Io {
  out: Writable & { isTTY?: boolean };
  err: Writable & { isTTY?: boolean };
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  color: ChalkInstance;
  /** Asks a yes/no question on the terminal. */
  ask(question: string): Promise<boolean>;
}

export function createIo(): Io {
  const env = process.env;
  const colorful = Boolean(process.stderr.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  return {
    out: process.stdout,
    err: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    env,
    cwd: process.cwd(),
    color: new Chalk({ level: colorful ? 1 : 0 }),
    ask: async (question) => {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
  };
}

export function writeJson(io: Io, value: unknown): void {
  io.out.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function line(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}

/**
 * Asks before a command moves a branch: --yes answers for CI; on a terminal the
 * person is asked; with neither, the command refuses rather than guess.
 */
export async function confirmOrRefuse(io: Io, yes: boolean | undefined, what: { doing: string; question: string; verb: string }): Promise<boolean> {
  if (yes) return true;
  if (!io.stdinIsTTY) {
    const { KnockEnvError } = await import('../core/errors.js');
    throw new KnockEnvError('CONFIRMATION_REQUIRED', `${what.doing} needs confirmation, and there is no terminal to ask on.`, {
      hint: `Pass --yes to ${what.verb} without asking (as CI does), or --dry-run to only see the plan.`,
    });
  }
  return io.ask(what.question);
}
