import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import type { WardenSocket } from '../sockets/socket-facade.ts';
import type { FrameGuard } from './install.ts';

const HANDSHAKE_EVENT = '#handshake';

/**
 * Counts the `#handshake` packets in one raw frame (a packet, or a batch: a JSON array of
 * packets). Only frames that could spell the event are parsed: its letters can be written
 * literally or as `\uXXXX` escapes only (JSON has no other escape that yields a letter), so a
 * frame holding neither `handshake` nor `\u` holds no handshake, and the common frame costs
 * two substring scans, not a second JSON.parse.
 */
export function handshakesIn(frame: unknown): number {
  let text: string;
  if (typeof frame === 'string') {
    if (!frame.includes('handshake') && !frame.includes('\\u')) return 0;
    text = frame;
  } else if (Buffer.isBuffer(frame)) {
    // An ASCII byte is never part of a multi-byte UTF-8 sequence: scanning the bytes is exact.
    if (!frame.includes('handshake') && !frame.includes('\\u')) return 0;
    // sc-formatter decodes a binary frame as its UTF-8 text, as here.
    text = frame.toString('utf8');
  } else {
    return 0;
  }
  let packet: unknown;
  try {
    packet = JSON.parse(text);
  } catch {
    return 0;
  }
  const packets: unknown[] = Array.isArray(packet) ? packet : [packet];
  let count = 0;
  for (const item of packets) {
    if (typeof item === 'object' && item !== null && (item as { event?: unknown }).event === HANDSHAKE_EVENT)
      count++;
  }
  return count;
}

/**
 * A raw-frame guard: a socket may send `#handshake` once. socketcluster-server 20.0.1 runs a
 * second one through the HANDSHAKE middleware stream it closed after the first
 * (serversocket.js 391 and 459): with a consumer loop on that stream the action is never
 * answered, the socket's inbound loop waits on it forever (365-368) and every later frame is
 * buffered unprocessed (3,000 frames of 60 KB held +177 MB in the worker); answered, as Warden's
 * middleware now would (install.ts, decideOnWrite), SC counts the client twice. The INBOUND
 * middleware never sees `#handshake` (624-636), so the guard looks at raw frames (install.ts,
 * guardFrames). A repeated handshake (in a later frame, or twice in one batch) closes the socket
 * with PROTOCOL_VIOLATION; frames still arriving on a closed socket (ws keeps reading until the
 * peer's close frame, up to 30 s) are dropped here instead of queueing behind a dead socket.
 * Its price per frame: a function call and two substring scans.
 *
 * @example
 *   const guardHandshake = createHandshakeGuard();
 *   installMiddleware(agServer, { raw: guardHandshake, ... });
 */
export function createHandshakeGuard(): FrameGuard {
  const handshaken = new WeakSet<WardenSocket>();
  return function guardHandshake(socket, frame) {
    if (socket.state === 'closed') {
      throw new WardenError('BadRequestError', 'the socket is closed');
    }
    const handshakes = handshakesIn(frame);
    if (handshakes === 0) return;
    if (handshakes === 1 && !handshaken.has(socket)) {
      handshaken.add(socket);
      return;
    }
    void socket.disconnect(CloseCodes.PROTOCOL_VIOLATION, 'a socket may send #handshake only once');
    throw new WardenError('BadRequestError', 'a socket may send #handshake only once');
  };
}
