import { withRemote } from '../../core/remote/sync.js';
import { describePrincipal } from '../../core/access.js';
import { changeMember, createKey, listKeys, listMembers, revokeKey, whoAmI } from '../../core/ops/members.js';
import { coreOptions, fs, readerOptions } from '../context.js';
import { line, writeJson, type Io } from '../io.js';

export async function runWhoAmI(io: Io, opts: { json?: boolean }): Promise<number> {
  const { actor, apiKey } = readerOptions(io, io.cwd);
  const result = await whoAmI({ fs, dir: io.cwd, actor: actor ?? { name: '', email: '' }, ...(apiKey ? { apiKey } : {}) });
  if (opts.json) writeJson(io, result);
  else {
    line(io.out, `You are ${io.color.bold(describePrincipal(result.principal))}`);
    for (const e of result.environments) line(io.out, `  ${e.environment.padEnd(16)} ${e.capabilities.length ? e.capabilities.join(', ') : io.color.dim('no access')}`);
  }
  return 0;
}

export async function runMembersList(io: Io, opts: { json?: boolean }): Promise<number> {
  const members = await listMembers({ fs, dir: io.cwd });
  if (opts.json) writeJson(io, { members });
  else for (const m of members) line(io.out, `${m.email.padEnd(36)} ${m.role.padEnd(18)} ${m.name ?? ''}`);
  return 0;
}

export async function runMembersChange(io: Io, change: Parameters<typeof changeMember>[0]['change'], opts: { json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), change }, changeMember);
  if (opts.json) writeJson(io, result);
  else line(io.err, `${io.color.green('✔')} ${change.action === 'add' ? `Added ${change.email}` : change.action === 'remove' ? `Removed ${change.email}` : `${change.email} is now ${change.role}`} (${result.commit.slice(0, 7)} on production, merged down)`);
  return 0;
}

export async function runKeysCreate(io: Io, opts: { env: string; role?: string; name: string; json?: boolean }): Promise<number> {
  const key = await withRemote({ ...coreOptions(io, io.cwd), environment: opts.env, name: opts.name, ...(opts.role ? { role: opts.role } : {}) }, createKey);
  if (opts.json) writeJson(io, key);
  else {
    line(io.err, `${io.color.green('✔')} Created API key "${key.name}" (${key.role} in ${key.environment}). The secret is shown once; only its hash is stored:`);
    line(io.out, key.secret);
    line(io.err, io.color.dim('  use it as KNOCK_ENV_API_KEY=<secret> or --api-key <secret>'));
  }
  return 0;
}

export async function runKeysList(io: Io, opts: { json?: boolean }): Promise<number> {
  const keys = await listKeys({ fs, dir: io.cwd });
  if (opts.json) writeJson(io, { keys });
  else if (keys.length === 0) line(io.err, 'No API keys.');
  else for (const k of keys) line(io.out, `${k.name.padEnd(24)} ${k.environment.padEnd(14)} ${k.role.padEnd(18)} ${k.created_at}${k.created_by ? `  by ${k.created_by}` : ''}`);
  return 0;
}

export async function runKeysRevoke(io: Io, name: string, opts: { json?: boolean }): Promise<number> {
  const result = await withRemote({ ...coreOptions(io, io.cwd), name }, revokeKey);
  if (opts.json) writeJson(io, result);
  else line(io.err, `${io.color.green('✔')} Revoked API key "${name}"; it no longer works (${result.commit.slice(0, 7)}).`);
  return 0;
}
