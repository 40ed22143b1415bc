import { z } from 'zod';

/**
 * Warden's cluster-wide control channel: revocations and user changes, carried between workers by
 * SocketCluster's exchange (through the SCC brokers). Clients can neither publish nor subscribe
 * to it: channels starting with `#` are reserved (see auth/permissions.ts).
 *
 * Every message names the worker it came from, so a worker can skip its own echo.
 */
export const CONTROL_CHANNEL = '#warden.control';

const revocation = z.object({
  kind: z.enum(['token', 'session', 'user']),
  subject: z.string().min(1).max(128),
  value: z.number().int().nonnegative(),
  expiresAt: z.number().int().nonnegative(),
});

export const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('revoke'), origin: z.string(), revocation }),
  z.object({ type: z.literal('user-changed'), origin: z.string(), userId: z.string().min(1).max(128) }),
]);

export type ControlMessage = z.infer<typeof controlMessageSchema>;

/** Parses a message from the exchange; null for anything malformed (logged by the caller). */
export function parseControlMessage(data: unknown): ControlMessage | null {
  const parsed = controlMessageSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}
