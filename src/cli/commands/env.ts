import { withRemote } from '../../core/remote/sync.js';
import { createEnvironment, listEnvironments } from '../../core/ops/environments.js';
import { coreOptions, readerOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runEnvList(io: Io, opts: { json?: boolean }): Promise<number> {
  const envs = await listEnvironments(readerOptions(io, io.cwd));
  if (opts.json) {
    writeJson(io, { environments: envs });
    return 0;
  }
  const c = io.color;
  for (const e of envs) {
    const flags = [e.settings.obfuscate_recipient_data ? 'recipient data obfuscated' : null, e.settings.show_message_contents ? null : 'message contents hidden'].filter(Boolean);
    line(io.out, `${e.checkedOut ? c.green('*') : ' '} ${String(e.position + 1).padStart(2)}. ${c.bold(e.slug.padEnd(16))} ${c.yellow(e.head.slice(0, 7))}${flags.length ? c.dim(`  ${flags.join(', ')}`) : ''}`);
  }
  return 0;
}

export async function runEnvCreate(io: Io, slug: string, opts: { name?: string; json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), slug, ...(opts.name ? { name: opts.name } : {}) }, createEnvironment);
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} Created environment ${io.color.bold(slug)} at ${result.head.slice(0, 7)}`);
    line(io.err, `  environments: ${result.environments.join(' → ')}`);
    line(io.err, `  next: ${io.color.bold(`knock-env promote ${slug}`)} moves it to the head of the environment below it`);
  }
  return 0;
}
