/**
 * Every failure the core reports is a KnockEnvError with a stable `code`.
 * The CLI maps codes to exit codes; tests compare codes, never messages.
 */
export type ErrorCode =
  | 'USAGE'
  | 'NOT_A_PROJECT'
  | 'ALREADY_INITIALISED'
  | 'UNKNOWN_ENVIRONMENT'
  | 'INVALID_KEY'
  | 'INVALID_CONFIG'
  | 'VALIDATION_FAILED'
  | 'OWNERSHIP'
  | 'REFUSED'
  | 'FORBIDDEN'
  | 'CONFIRMATION_REQUIRED'
  | 'NOT_FAST_FORWARD'
  | 'CONCURRENT_UPDATE'
  | 'LOCKED'
  | 'NOTHING_TO_COMMIT'
  | 'NOT_FOUND'
  | 'UNSUPPORTED_REPOSITORY'
  | 'MISSING_IDENTITY'
  | 'DIRTY_WORKING_TREE'
  /** The remote refused the credentials (HTTP 401/403). */
  | 'AUTH_FAILED'
  /** The remote could not be reached or answered with an error. */
  | 'REMOTE_ERROR'
  /** The remote's rules (its pre-receive hook) refused the update. */
  | 'REMOTE_REJECTED'
  /** A push moved some branches on the remote but not all; the next command completes it. */
  | 'PUSH_INCOMPLETE';

export interface ErrorDetails {
  hint?: string;
  /** Machine-readable extras (issues, paths, environment names). */
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class KnockEnvError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KnockEnvError';
    this.code = code;
    this.hint = details.hint;
    this.data = details.data;
  }
}

export function isKnockEnvError(value: unknown, code?: ErrorCode): value is KnockEnvError {
  return value instanceof KnockEnvError && (code === undefined || value.code === code);
}
