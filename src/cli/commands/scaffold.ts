import { scaffoldResource } from '../../core/ops/scaffold.js';
import type { ResourceKind } from '../../core/resources.js';
import { fs } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runScaffold(io: Io, kind: ResourceKind, key: string, opts: { json?: boolean }): Promise<number> {
  const result = await scaffoldResource({ fs, dir: io.cwd, kind, key });
  if (opts.json) writeJson(io, result);
  else {
    line(io.err, `${io.color.green('✔')} Created ${kind} ${io.color.bold(key)}:`);
    for (const f of result.files) line(io.out, `  ${f}`);
    line(io.err, `  next: edit it, then ${io.color.bold('knock-env commit -m "Add ' + key + '"')}`);
  }
  return 0;
}
