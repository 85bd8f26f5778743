/** Ownership of paths is decided in the policy module; this re-exports it for existing callers. */
export { ACCOUNT, OwnershipJudge, type Owner } from './policy/owners.js';
