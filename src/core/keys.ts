import { KnockEnvError } from './errors.js';

/** Knock's rule for resource keys and environment slugs. */
export const KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{2,254}$/;

/** Why a key is not acceptable, or null when it is. Checked before any path is built from it. */
export function keyProblem(key: string): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'it is empty';
  if (key.includes('\0')) return 'it contains a NUL byte';
  if (key.includes('/') || key.includes('\\')) return 'it contains a path separator';
  if (key === '.' || key === '..' || key.startsWith('.')) return 'it starts with a dot';
  if (key.length < 3) return 'it is shorter than 3 characters';
  if (key.length > 255) return 'it is longer than 255 characters';
  if (/[A-Z]/.test(key)) return 'it contains upper-case letters';
  if (!KEY_PATTERN.test(key)) {
    return 'it must start with a lower-case letter or digit and contain only a-z, 0-9, "_" and "-"';
  }
  return null;
}

export function describeKey(key: string): string {
  return JSON.stringify(key.length > 60 ? `${key.slice(0, 57)}...` : key);
}

export function assertValidKey(key: string, what: string): void {
  const problem = keyProblem(key);
  if (problem !== null) {
    throw new KnockEnvError('INVALID_KEY', `Invalid ${what} ${describeKey(key)}: ${problem}.`, {
      hint: 'Keys match ^[a-z0-9][a-z0-9_-]{2,254}$, for example "welcome-email".',
      data: { key, problem },
    });
  }
}
