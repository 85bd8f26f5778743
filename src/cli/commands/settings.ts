import { withRemote } from '../../core/remote/sync.js';
import { ACCOUNT_SETTINGS, parseSwitch, readAccountSettings, setAccountSetting } from '../../core/ops/settings.js';
import { coreOptions, fs } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runSettingsList(io: Io, opts: { json?: boolean }): Promise<number> {
  const settings = await readAccountSettings({ fs, dir: io.cwd });
  if (opts.json) writeJson(io, { settings });
  else {
    for (const [name, value] of Object.entries(settings)) {
      line(io.out, `${name.padEnd(26)} ${value ? io.color.green('on') : io.color.dim('off')}  ${io.color.dim(ACCOUNT_SETTINGS[name as keyof typeof ACCOUNT_SETTINGS].describe)}`);
    }
  }
  return 0;
}

export async function runSettingsSet(io: Io, name: string, value: string, opts: { json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), name, value: parseSwitch(value) }, setAccountSetting);
  if (opts.json) writeJson(io, { name, value: parseSwitch(value), changed: result.changed, commit: result.commit || null, mergedInto: result.mergedInto });
  else if (!result.changed) line(io.err, `${name} is already ${value}; nothing changed.`);
  else {
    line(io.err, `${io.color.green('✔')} ${name} is now ${parseSwitch(value) ? 'on' : 'off'} in every environment (${result.commit.slice(0, 7)} on production, merged down)`);
  }
  return 0;
}
