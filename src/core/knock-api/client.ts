import KnockMgmt, { APIConnectionError, APIError } from '@knocklabs/mgmt';
import { KnockEnvError } from '../errors.js';

/**
 * Where knock-env reaches Knock's Management API and with what. The CLI reads
 * KNOCK_SERVICE_TOKEN (or the file named by --token-file) and KNOCK_MGMT_BASE_URL
 * and passes them here: the core never reads the process's environment, and the
 * token is never written anywhere (messages, the journal, the audit trail, JSON).
 */
export interface KnockConnection {
  serviceToken: string;
  /** Default: Knock's own, https://control.knock.app. */
  baseURL?: string;
  /** Retries of 429 and 5xx answers (with Knock's retry-after, else backoff); default 2. */
  maxRetries?: number;
  /** Milliseconds before a request is given up; default 60 s. */
  timeoutMs?: number;
}

export function knockClient(connection: KnockConnection): KnockMgmt {
  return new KnockMgmt({
    serviceToken: connection.serviceToken,
    baseURL: connection.baseURL ?? null,
    maxRetries: connection.maxRetries ?? 2,
    timeout: connection.timeoutMs ?? 60_000,
    // The client would otherwise log warnings through the console: the core prints nothing.
    logLevel: 'off',
  });
}

export interface KnockFieldError {
  field: string;
  message: string;
}

/** Field errors of a 422 answer, in Knock's shape ({ errors: [{ field, message }] }). */
export function fieldErrorsOf(error: unknown): KnockFieldError[] {
  const body = error instanceof APIError ? (error.error as { errors?: unknown } | undefined) : undefined;
  const list = Array.isArray(body?.errors) ? body.errors : [];
  return list
    .filter((e): e is { field?: unknown; message?: unknown } => e !== null && typeof e === 'object')
    .map((e) => ({ field: String(e.field ?? ''), message: String(e.message ?? '') }));
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof APIError ? error.status : undefined;
}

/**
 * Knock's answer as knock-env's error: 401/403 refused credentials, 422 a
 * validation problem with Knock's field errors, anything else (5xx after the
 * client's retries, a lost connection) a remote error. `doing` names the request.
 */
export function knockError(error: unknown, doing: string, hint?: string): KnockEnvError {
  if (error instanceof KnockEnvError) return error;
  const status = statusOf(error);
  if (status === 401 || status === 403) {
    return new KnockEnvError('AUTH_FAILED', `Knock refused the service token while ${doing} (HTTP ${status}).`, {
      hint: 'Set KNOCK_SERVICE_TOKEN (or pass --token-file) to a service token of this Knock account with access to the environment.',
      data: { status },
    });
  }
  if (status === 422) {
    const errors = fieldErrorsOf(error);
    return new KnockEnvError('VALIDATION_FAILED', `Knock refused the content while ${doing}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ') || 'invalid'}.`, {
      hint: hint ?? 'Fix the fields Knock names, commit, and deploy again.',
      data: { status, errors },
    });
  }
  if (status === 404) {
    return new KnockEnvError('NOT_FOUND', `Knock has no such resource or environment (${doing}; HTTP 404).`, {
      hint: 'Check the Knock environment slug (`knock-env deploy map`) and that the service token belongs to this account.',
      data: { status },
    });
  }
  const what = error instanceof APIConnectionError ? 'could not be reached' : status !== undefined ? `answered HTTP ${status}` : 'failed';
  return new KnockEnvError('REMOTE_ERROR', `Knock's Management API ${what} while ${doing}.`, {
    hint: hint ?? 'Try again later; an interrupted deploy is completed by the next `knock-env deploy`.',
    data: { ...(status !== undefined ? { status } : {}) },
    cause: error,
  });
}
