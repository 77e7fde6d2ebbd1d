import type { Role } from './types';

/** the first path segment of each page and the roles that may open it */
export const PAGE_ROLES: Record<string, Role[]> = {
  overview: ['client'],
  keys: ['client'],
  requests: ['client'],
  tasks: ['client'],
  statement: ['client'],
  channels: ['admin'],
  models: ['admin'],
  queues: ['admin'],
  lookup: ['admin'],
  reconciliation: ['admin', 'finance'],
  holds: ['admin', 'finance'],
  usage: ['admin', 'finance'],
  accounts: ['admin', 'finance'],
};

export function homeOf(role: Role): string {
  return role === 'client' ? '/overview' : role === 'admin' ? '/channels' : '/reconciliation';
}

/** where to go after signing in: the deep link asked for when this role may open it, else the role's home */
export function landingFor(role: Role, from: string | undefined): string {
  const seg = from?.split('/')[1];
  return from && seg && PAGE_ROLES[seg]?.includes(role) ? from : homeOf(role);
}
