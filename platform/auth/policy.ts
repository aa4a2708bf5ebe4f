/**
 * Least privilege per action: which roles may do what. Pure; the HTTP layer asks before it reads.
 */
import type { Principal, Role } from './jwt.ts';

export const ACTIONS = {
  'read-profile': ['clinician', 'admin'],
  'read-alerts': ['clinician', 'admin'],
  'read-health': ['clinician', 'analyst', 'admin'],
  'manage-webhooks': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Action = keyof typeof ACTIONS;

export type Decision = { allowed: true } | { allowed: false; reason: string };

export function authorize(principal: Principal, action: Action): Decision {
  const allowed: readonly Role[] = ACTIONS[action];
  if (principal.roles.some((r) => allowed.includes(r))) return { allowed: true };
  const held = principal.roles.length === 0 ? 'no role' : `roles ${principal.roles.join(', ')}`;
  return { allowed: false, reason: `${action} needs one of ${allowed.join(', ')}; token has ${held}` };
}
