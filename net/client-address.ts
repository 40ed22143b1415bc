import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Finds the client's address of a request: the TCP peer, or what a trusted proxy says it is. */
export type ClientAddressResolver = (request: IncomingMessage) => string;

export interface ClientAddressOptions {
  /** Addresses or CIDRs of reverse proxies (TRUST_PROXY); empty: the TCP peer is the client. */
  readonly trustProxy: readonly string[];
}

/** The address a socket or request has when Node does not know it (a destroyed socket). */
export const UNKNOWN_ADDRESS = 'unknown';

/** `::ffff:10.0.0.1` is the IPv4 client 10.0.0.1 on a dual-stack listener. */
function normalise(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * One X-Forwarded-For entry as an address: `203.0.113.7`, `203.0.113.7:5123`, `2001:db8::1`,
 * `[2001:db8::1]:443`; null for anything else (`unknown`, an obfuscated identifier, garbage).
 */
function forwardedAddress(entry: string): string | null {
  let value = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed?.[1] !== undefined) value = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  return isIP(value) === 0 ? null : normalise(value);
}

function toBlockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(normalise(address), family);
    else list.addSubnet(normalise(address), Number(bits), family);
  }
  return list;
}

/**
 * Resolves the client address of HTTP requests and WebSocket upgrades alike (SocketCluster keeps
 * the upgrade request on `socket.request`). Only when the TCP peer is a trusted proxy is
 * `X-Forwarded-For` read, right to left: each hop that is itself a trusted proxy passes the
 * question on to the entry before it; the first hop that is not trusted is the client. Entries
 * left of it were written by the client and prove nothing. Behind ingress-nginx, which appends
 * the peer it saw, this yields the browser's address however the header arrived.
 *
 * @example
 *   const clientAddress = createClientAddressResolver({ trustProxy: ['10.0.0.0/8'] });
 *   clientAddress(request); // '203.0.113.7'
 */
export function createClientAddressResolver(options: ClientAddressOptions): ClientAddressResolver {
  if (options.trustProxy.length === 0) {
    return (request) => peerOf(request);
  }
  const trusted = toBlockList(options.trustProxy);
  const isTrusted = (address: string) => trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return function clientAddress(request) {
    let current = peerOf(request);
    if (current === UNKNOWN_ADDRESS || !isTrusted(current)) return current;
    const hops = forwardedFor(request);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = forwardedAddress(hops[i] ?? '');
      // A malformed entry ends the chain: the proxy that handed it over is the best we know.
      if (hop === null) return current;
      current = hop;
      if (!isTrusted(current)) return current;
    }
    return current;
  };
}

function peerOf(request: IncomingMessage): string {
  const peer = request.socket?.remoteAddress;
  return peer === undefined ? UNKNOWN_ADDRESS : normalise(peer);
}

/** Every X-Forwarded-For entry, in order, across repeated headers (Node joins them with ", "). */
function forwardedFor(request: IncomingMessage): string[] {
  const header = request.headers['x-forwarded-for'];
  if (header === undefined) return [];
  return (Array.isArray(header) ? header.join(',') : header).split(',');
}

/**
 * Whether an address is one of `entries` (addresses or CIDRs, as TRUST_PROXY): for settings that
 * trust a peer by its address, such as GATEWAY_TRUSTED_PROXIES.
 *
 * @example
 *   const isGateway = createAddressMatcher(['10.0.0.0/8']);
 *   isGateway(peerAddress(request));
 */
export function createAddressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = toBlockList(entries);
  return (address) =>
    address !== UNKNOWN_ADDRESS && list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** The TCP peer of a request (normalised: `::ffff:` IPv4 addresses as IPv4), never a header. */
export function peerAddress(request: IncomingMessage): string {
  return peerOf(request);
}
