import { startServer as startCoreServer, type RunningServer, type ServerOptions } from '../core/server/http.js';

export { PUSH_API_KEY_ENV, REALM, REQUEST_TIME_LIMIT_MS, repositoryName, type RunningServer, type ServerOptions } from '../core/server/http.js';

/** Signals a process group (POSIX); false where there are none, or when the group is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (process.platform === 'win32') return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** `knock-env serve`'s server: the core's, given this process's environment and its process groups. */
export function startServer(options: ServerOptions): Promise<RunningServer> {
  return startCoreServer({ env: process.env, signalGroup, ...options });
}
