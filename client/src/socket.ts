import socketClusterClient from 'socketcluster-client';
import type { TokenStorage } from './storage.ts';

/**
 * The part of socketcluster-client's socket this package uses, typed here so that the package's
 * own types never depend on socketcluster-client's (untyped upstream) surface.
 */
export interface ScSocket {
  readonly state: 'connecting' | 'open' | 'closed';
  readonly authState: 'authenticated' | 'unauthenticated';
  readonly authToken: Record<string, unknown> | null;
  readonly signedAuthToken: string | null;
  readonly pendingReconnect: boolean;
  readonly auth: TokenStorage;
  readonly authTokenName: string;
  connect(): void;
  disconnect(code?: number, reason?: string): void;
  authenticate(token: string): Promise<{ isAuthenticated: boolean; authError?: unknown }>;
  deauthenticate(): Promise<void>;
  invoke(procedure: string, data?: unknown): Promise<unknown>;
  invokePublish(channel: string, data: unknown): Promise<void>;
  subscribe(channel: string): ScChannel;
  unsubscribe(channel: string): void;
  closeChannel(channel: string): void;
  isSubscribed(channel: string, includePending?: boolean): boolean;
  subscriptions(includePending?: boolean): string[];
  listener(event: string): AsyncIterable<Record<string, unknown>> & { once(): Promise<unknown> };
  receiver(event: string): AsyncIterable<unknown>;
  closeAllListeners(): void;
  closeAllReceivers(): void;
  closeAllChannels(): void;
}

export type ScChannel = AsyncIterable<unknown>;

export interface SocketOptions {
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  readonly path: string;
  readonly authTokenName: string;
  readonly authEngine: TokenStorage;
  readonly autoReconnectOptions: ReconnectOptions;
  readonly query?: Record<string, string>;
  readonly autoConnect?: boolean;
}

/** socketcluster-client's back-off: delay = (initialDelay + randomness * random) * multiplier^attempt, capped. */
export interface ReconnectOptions {
  readonly initialDelay: number;
  readonly randomness: number;
  readonly multiplier: number;
  readonly maxDelay: number;
}

export function createScSocket(options: SocketOptions): ScSocket {
  return socketClusterClient.create({ ...options, autoReconnect: true } as never) as unknown as ScSocket;
}

/** The payload of a JWT, decoded without verifying it (the server verifies; this only reads). */
export function decodeToken(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (part === undefined) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
