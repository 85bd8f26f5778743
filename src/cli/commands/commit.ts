import { withRemote } from '../../core/remote/sync.js';
import { commitChanges } from '../../core/ops/commit.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runCommit(io: Io, paths: string[], opts: { message: string; json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), message: opts.message, paths }, commitChanges);
  if (opts.json) {
    writeJson(io, result);
    return 0;
  }
  const c = io.color;
  line(io.out, `${c.green('✔')} [${result.environment} ${c.yellow(result.commit.slice(0, 7))}] ${opts.message.split('\n')[0]}`);
  for (const r of result.resources) line(io.out, `  ${r.status.padEnd(9)} ${r.kind} ${r.key}`);
  const others = result.files.filter((f) => !f.path.startsWith('workflows/') && !f.path.startsWith('guides/'));
  for (const f of others) line(io.out, `  ${f.status.padEnd(9)} ${f.path}`);
  for (const m of result.mergedInto) line(io.err, c.dim(`  merged down into ${m.environment} (${m.to.slice(0, 7)})`));
  return 0;
}
