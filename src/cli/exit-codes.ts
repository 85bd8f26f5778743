import type { ErrorCode } from '../core/errors.js';

/** The exit codes knock-env documents (README, "Exit codes"). */
export const EXIT = {
  success: 0,
  failure: 1,
  usage: 2,
  validationFailed: 3,
  refused: 4,
  notFastForward: 5,
  concurrentUpdate: 6,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'INVALID_KEY':
    case 'UNKNOWN_ENVIRONMENT':
      return EXIT.usage;
    case 'VALIDATION_FAILED':
    case 'INVALID_CONFIG':
      return EXIT.validationFailed;
    case 'OWNERSHIP':
    case 'REFUSED':
    case 'FORBIDDEN':
    case 'CONFIRMATION_REQUIRED':
    case 'DIRTY_WORKING_TREE':
    case 'ALREADY_INITIALISED':
    case 'AUTH_FAILED':
    case 'REMOTE_REJECTED':
      return EXIT.refused;
    case 'NOT_FAST_FORWARD':
      return EXIT.notFastForward;
    case 'CONCURRENT_UPDATE':
    case 'LOCKED':
    case 'PUSH_INCOMPLETE':
      return EXIT.concurrentUpdate;
    default:
      return EXIT.failure;
  }
}
