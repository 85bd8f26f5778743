import { exportEnvironment } from '../../core/ops/export.js';
import { readerOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printResourceReport } from '../format.js';
import { line, writeJson, type Io } from '../io.js';

export async function runExport(io: Io, target: string, opts: { env?: string; json?: boolean; force?: boolean }): Promise<number> {
  const result = await exportEnvironment({
    ...readerOptions(io, io.cwd),
    target,
    ...(opts.env !== undefined ? { environment: opts.env } : {}),
    force: Boolean(opts.force),
  });
  // A committed resource that cannot be exported is invalid: `knock-env validate` or `doctor` says why.
  const code = result.skipped > 0 ? EXIT.validationFailed : EXIT.success;
  if (opts.json) {
    writeJson(io, result);
    return code;
  }
  const c = io.color;
  printResourceReport(io, result.resources, 'exported', 10);
  line(
    io.err,
    `${result.skipped > 0 ? c.yellow('!') : c.green('✔')} ${result.exported} exported from ${c.bold(result.environment)} at ${c.yellow(result.commit.slice(0, 7))} to ${result.target}${result.skipped > 0 ? `, ${result.skipped} skipped` : ''}.`,
  );
  if (result.exported > 0) {
    line(io.err, c.dim(`  in the Knock CLI's layout, e.g. knock workflow push --all --workflows-dir ${JSON.stringify(`${result.target}/workflows`)}`));
  }
  return code;
}
