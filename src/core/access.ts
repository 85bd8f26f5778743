/** Roles, principals and visibility are decided in the policy module; this re-exports them for existing callers. */
export { authenticate, authorize, describePrincipal, hashSecret, newSecret, permission, type Capability, type Principal } from './policy/roles.js';
export { authorizeRead } from './policy/visibility.js';
