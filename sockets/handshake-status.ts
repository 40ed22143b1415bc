import type { WardenError } from '../errors/catalogue.ts';
import type { WardenSocket } from './socket-facade.ts';

/** What Warden adds to the status SocketCluster answers a handshake with. */
export interface HandshakeStatusExtras {
  /** Why a credential presented out of band (a ticket) was refused. */
  readonly authError?: WardenError;
}

interface SendsObjects {
  sendObject(object: unknown): void;
}

function isHandshakeAnswer(object: unknown): object is { rid: number; data: Record<string, unknown> } {
  if (typeof object !== 'object' || object === null || !('rid' in object) || !('data' in object))
    return false;
  const data = (object as { data: unknown }).data;
  return typeof data === 'object' && data !== null && 'isAuthenticated' in data && 'pingTimeout' in data;
}

/**
 * Adds fields to the status of this socket's handshake answer, which the client receives as its
 * connect status. socketcluster-server 20.0.1 builds that status itself and puts an `authError`
 * in it only for a token the client sent in the handshake (serversocket.js 417-421); a ticket
 * comes in the URL's query, so its refusal is added here, once, on the way out.
 *
 * @example
 *   amendHandshakeStatus(action.socket, { authError: ticketRefused('used') });
 */
export function amendHandshakeStatus(socket: WardenSocket, extras: HandshakeStatusExtras): void {
  const target = socket as unknown as SendsObjects;
  const send = target.sendObject;
  target.sendObject = function sendAmended(this: SendsObjects, object: unknown) {
    if (isHandshakeAnswer(object)) {
      // Back to the prototype's method: only the handshake answer is amended.
      delete (target as Partial<SendsObjects>).sendObject;
      if (extras.authError !== undefined) {
        const { name, code, message, reason } = extras.authError;
        object.data.authError = { name, code, message, ...(reason === undefined ? {} : { reason }) };
      }
    }
    send.call(this, object);
  };
}
