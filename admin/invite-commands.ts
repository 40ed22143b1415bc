import { OneTimeSecrets } from '../auth/one-time-secrets.ts';
import type { InvitePayload } from '../auth/registration.ts';
import type { RoleContext } from './role-commands.ts';
import { parseCommandArgs } from './user-commands.ts';
import { checkName, UsageError } from './validation.ts';

export const INVITE_USAGE = `usage: warden invite create [--role R]... [--ttl SECONDS]
  prints a one-time invite for POST /auth/register (REGISTRATION=invite); the new user gets
  the roles given (default: REGISTRATION_ROLES); valid --ttl seconds (default 604800, 7 days)`;

/** Default life of an invite: a week, long enough to reach someone by mail. */
export const DEFAULT_INVITE_TTL = 7 * 24 * 3600;
const MAX_INVITE_TTL = 365 * 24 * 3600;

/** A parsed `warden invite ...` command, checked before the store is opened. */
export interface InviteCommand {
  readonly createsStore: boolean;
  run(ctx: RoleContext): Promise<void>;
}

/**
 * Parses `warden invite create [--role R]... [--ttl S]`. The invite is printed once and stored
 * only as its SHA-256, like a ticket.
 *
 * @example
 *   await parseInviteCommand(['create', '--role', 'editor']).run({ store, out, warn });
 */
export function parseInviteCommand(args: string[]): InviteCommand {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new UsageError(INVITE_USAGE);
  const { values, positionals } = parseCommandArgs('invite create', rest, {
    role: { type: 'string', multiple: true },
    ttl: { type: 'string' },
  });
  if (positionals.length > 0)
    throw new UsageError(`warden invite create takes no arguments (got "${positionals[0]}")`);
  const roles = (values.role ?? []).map((role) => checkName('role', role));
  const ttlText = values.ttl ?? String(DEFAULT_INVITE_TTL);
  const ttl = Number(ttlText);
  if (!/^\d+$/.test(ttlText) || ttl < 1 || ttl > MAX_INVITE_TTL)
    throw new UsageError(`--ttl "${ttlText}" must be a whole number of seconds from 1 to ${MAX_INVITE_TTL}`);
  return {
    createsStore: false,
    async run(ctx) {
      const secrets = new OneTimeSecrets({ store: ctx.store, now: ctx.now ?? Date.now });
      const payload: InvitePayload = { roles };
      const { secret, expiresAt } = await secrets.mint('invite', payload, ttl);
      ctx.out(secret);
      ctx.warn(
        `one-time invite${roles.length > 0 ? ` with roles ${roles.join(', ')}` : ''}, valid until ${new Date(expiresAt * 1000).toISOString()}`,
      );
    },
  };
}
