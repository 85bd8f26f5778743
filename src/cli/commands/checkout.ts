import { checkoutEnvironment } from '../../core/ops/checkout.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runCheckout(io: Io, environment: string, opts: { json?: boolean }): Promise<number> {
  const result = await checkoutEnvironment({ ...coreOptions(io, io.cwd), environment });
  if (opts.json) writeJson(io, result);
  else {
    const c = io.color;
    line(io.err, `${c.green('✔')} On ${c.bold(environment)} at ${c.yellow(result.head.slice(0, 7))}${result.previous && result.previous !== environment ? ` (was ${result.previous}; ${result.files} file${result.files === 1 ? '' : 's'} updated)` : ''}`);
    line(io.err, c.dim(`  status and commit now act on ${environment}`));
  }
  return 0;
}
