import type { CoreOptions } from '../context.js';
import { authenticate, authorize } from '../access.js';
import { KnockEnvError } from '../errors.js';
import { loadConfig, openProject } from '../project.js';
import { commitAccountChange, type AccountChange } from './account.js';
import { withRepositoryLock } from './shared.js';

/** Account settings people can set, by their command-line name. */
export const ACCOUNT_SETTINGS = {
  'production-write-access': {
    field: 'production_write_access',
    describe: 'workflows and guides may also be created and edited directly in environments above development',
  },
} as const;

export type AccountSettingName = keyof typeof ACCOUNT_SETTINGS;

export function parseSwitch(value: string): boolean {
  if (/^(on|true|yes|1)$/i.test(value)) return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  throw new KnockEnvError('USAGE', `"${value}" is not on or off.`, { hint: 'Use on or off.' });
}

export async function readAccountSettings(options: Pick<CoreOptions, 'fs' | 'dir'>): Promise<Record<AccountSettingName, boolean>> {
  const config = await loadConfig(await openProject(options));
  return { 'production-write-access': Boolean(config.settings?.production_write_access) };
}

/**
 * Sets an account setting. It is committed on the highest environment and
 * merged down, so it holds everywhere at once. Switching production write
 * access off changes no resource: those created while it was on stay, and stay
 * editable only where they were created (once it is on again).
 */
export async function setAccountSetting(options: CoreOptions & { name: string; value: boolean }): Promise<AccountChange & { changed: boolean }> {
  const setting = ACCOUNT_SETTINGS[options.name as AccountSettingName];
  if (!setting) {
    throw new KnockEnvError('USAGE', `There is no account setting "${options.name}".`, {
      hint: `Settings: ${Object.keys(ACCOUNT_SETTINGS).join(', ')}.`,
    });
  }
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    authorize(config, authenticate(config, options.actor, options.apiKey), 'manage-account', config.environments[config.environments.length - 1]!.slug, 'change account settings');
    const current = Boolean(config.settings?.[setting.field]);
    if (current === options.value) {
      return { commit: '', config, mergedInto: [], changed: false };
    }
    const change = await commitAccountChange(project, options, {
      subject: `Turn ${options.name} ${options.value ? 'on' : 'off'}`,
      operation: 'settings',
      edit: (doc) => doc.setIn(['settings', setting.field], options.value),
    });
    return { ...change, changed: true };
  });
}
