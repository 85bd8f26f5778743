import { withRemote } from '../../core/remote/sync.js';
import { setEnvironmentSetting } from '../../core/ops/environment-settings.js';
import { parseSwitch } from '../../core/ops/settings.js';
import { coreOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runEnvSet(io: Io, environment: string, name: string, value: string, opts: { json?: boolean }): Promise<number> {
  const on = parseSwitch(value);
  const result = await withRemote({ ...coreOptions(io, io.cwd), environment, name, value: on }, setEnvironmentSetting);
  if (opts.json) {
    writeJson(io, result);
    return 0;
  }
  const c = io.color;
  if (!result.changed) {
    line(io.err, `${name} is already ${on ? 'on' : 'off'} in ${environment}; nothing changed.`);
  } else {
    line(io.err, `${c.green('✔')} ${name} is now ${on ? 'on' : 'off'} in ${c.bold(environment)} (${result.commit!.slice(0, 7)} on production, merged down)`);
  }
  const { obfuscate_recipient_data: obfuscated, show_message_contents: shown } = result.settings;
  line(io.err, c.dim(`  ${environment}: recipient data ${obfuscated ? 'obfuscated' : 'shown'}, message contents ${shown ? 'shown' : 'hidden'} in \`knock-env run\``));
  return 0;
}
