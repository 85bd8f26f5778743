import { Writable } from 'node:stream';
import { Chalk } from 'chalk';
import type { Io } from '../../src/cli/io.js';

/** An Io for calling a command in-process: no terminal, no colour, and what it writes collected. */
export function captureIo(cwd: string, env: NodeJS.ProcessEnv = {}): Io & { stdout: () => string; stderr: () => string } {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const out = sink();
  const err = sink();
  return {
    out: out.stream,
    err: err.stream,
    stdinIsTTY: false,
    env,
    cwd,
    color: new Chalk({ level: 0 }),
    ask: async () => false,
    stdout: out.text,
    stderr: err.text,
  };
}
