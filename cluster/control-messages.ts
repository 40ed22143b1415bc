import { z } from 'zod';

/**
 * Warden's cluster-wide control channel: revocations, user and role changes, carried between workers by
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

const messageId = z.string().min(1).max(64);

export const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('revoke'),
    origin: z.string(),
    revocation,
    /**
     * True when the origin has written the revocation to the store. False (a store outage): every
     * receiver holds it too and writes it when the store answers, and confirms with `revoke-held`
     * (quoting `id`). A message without the field (an older worker) counts as not written: at
     * worst the row is written twice, which is harmless (see ClusterControl).
     */
    durable: z.boolean().default(false),
    id: messageId.optional(),
    /** When the origin sent it (ms since the epoch, wall clock): for the propagation metric. */
    sentAt: z.number().int().nonnegative().optional(),
  }),
  /** A receiver of a not-yet-written revocation now holds it (ClusterControl waits for one). */
  z.object({ type: z.literal('revoke-held'), origin: z.string(), ref: messageId }),
  z.object({ type: z.literal('user-changed'), origin: z.string(), userId: z.string().min(1).max(128) }),
  z.object({ type: z.literal('role-changed'), origin: z.string(), role: z.string().min(1).max(128) }),
]);

export type ControlMessage = z.infer<typeof controlMessageSchema>;

/** Parses a message from the exchange; null for anything malformed (logged by the caller). */
export function parseControlMessage(data: unknown): ControlMessage | null {
  const parsed = controlMessageSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}
