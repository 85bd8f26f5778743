import { authenticate, authorize } from '../access.js';
import type { CoreOptions } from '../context.js';
import { KnockEnvError } from '../errors.js';
import { HIGHEST_ENVIRONMENT, loadConfig, openProject, requireEnvironment } from '../project.js';
import type { EnvironmentSettings, KnockEnvConfig } from '../validate/config.js';
import { commitAccountChange } from './account.js';
import type { BranchMove } from './mergeDown.js';
import { withRepositoryLock } from './shared.js';

/** Per-environment settings people can set, by their command-line name. */
export const ENVIRONMENT_SETTINGS = {
  'obfuscate-recipient-data': {
    field: 'obfuscate_recipient_data',
    describe: 'recipient details (email, phone, name, every field but id and collection) are masked in what knock-env run shows',
  },
  'show-message-contents': {
    field: 'show_message_contents',
    describe: 'knock-env run shows the rendered text of messages (off: channel, step, field names and sizes only)',
  },
} as const;

export type EnvironmentSettingName = keyof typeof ENVIRONMENT_SETTINGS;

export function isEnvironmentSettingName(name: string): name is EnvironmentSettingName {
  return Object.prototype.hasOwnProperty.call(ENVIRONMENT_SETTINGS, name);
}

/**
 * An environment's settings, with the defaults for any left unset: recipient
 * data obfuscated and message contents hidden in the highest environment
 * (production), both shown everywhere else.
 */
export function environmentSettingsOf(config: KnockEnvConfig, environment: string): EnvironmentSettings {
  const entry = config.environments.find((e) => e.slug === environment);
  const highest = config.environments[config.environments.length - 1]?.slug ?? HIGHEST_ENVIRONMENT;
  const isHighest = environment === highest;
  return {
    obfuscate_recipient_data: entry?.settings?.obfuscate_recipient_data ?? isHighest,
    show_message_contents: entry?.settings?.show_message_contents ?? !isHighest,
  };
}

export interface SetEnvironmentSettingOptions extends CoreOptions {
  environment: string;
  name: string;
  value: boolean;
}

export interface SetEnvironmentSettingResult {
  environment: string;
  name: EnvironmentSettingName;
  value: boolean;
  changed: boolean;
  /** The commit on the highest environment, or null when nothing changed. */
  commit: string | null;
  mergedInto: BranchMove[];
  settings: EnvironmentSettings;
}

/**
 * Sets one environment's setting in knock-env.yaml. Like every account
 * change it is committed on the highest environment and merged down, so every
 * branch agrees on it at once.
 */
export async function setEnvironmentSetting(options: SetEnvironmentSettingOptions): Promise<SetEnvironmentSettingResult> {
  const { name } = options;
  if (!isEnvironmentSettingName(name)) {
    throw new KnockEnvError('USAGE', `There is no environment setting "${name}".`, {
      hint: `Settings: ${Object.keys(ENVIRONMENT_SETTINGS).join(', ')}; e.g. \`knock-env env set staging obfuscate-recipient-data on\`.`,
    });
  }
  const field = ENVIRONMENT_SETTINGS[name].field;
  const project = await openProject(options);
  return withRepositoryLock(project, options, async () => {
    const config = await loadConfig(project);
    const index = requireEnvironment(config, options.environment);
    authorize(config, authenticate(config, options.actor, options.apiKey), 'manage-account', HIGHEST_ENVIRONMENT, `change the settings of ${options.environment}`);
    const current = environmentSettingsOf(config, options.environment);
    if (current[field] === options.value && config.environments[index]?.settings?.[field] !== undefined) {
      return { environment: options.environment, name, value: options.value, changed: false, commit: null, mergedInto: [], settings: current };
    }
    const change = await commitAccountChange(project, options, {
      subject: `Turn ${name} ${options.value ? 'on' : 'off'} in ${options.environment}`,
      operation: 'settings',
      edit: (doc) => doc.setIn(['environments', index, 'settings', field], options.value),
    });
    return {
      environment: options.environment,
      name,
      value: options.value,
      changed: true,
      commit: change.commit,
      mergedInto: change.mergedInto,
      settings: environmentSettingsOf(change.config, options.environment),
    };
  });
}
