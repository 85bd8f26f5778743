import type { Command } from 'commander';
import type { Io } from './io.js';

/** Wraps a command's action so that the number it returns becomes the process's exit code. */
export type Action = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

/**
 * What each file in src/cli/commands exports: it adds its commands (names, arguments,
 * options, help) to the program, beside the code that runs them.
 */
export type RegisterCommands = (program: Command, io: Io, run: Action) => void;
