import { ConfigError } from '../config/index.ts';

/** A port a role listens on, with the variables that set it. */
export interface ListenSetting {
  readonly variable: string;
  readonly port: number;
  readonly hostVariable: string;
  readonly host: string;
  /** Added to the advice, e.g. that BROKERS brokers use consecutive ports. */
  readonly note?: string;
}

interface ListenError {
  code?: unknown;
  syscall?: unknown;
  port?: unknown;
  address?: unknown;
}

/**
 * The one line to show for an error that stops a role from starting and that restarting will not
 * fix, or null for any other error: a bad configuration value, or a port that cannot be bound
 * (in use, privileged, an address this host does not have). A worker under node:cluster gets the
 * primary's bind error (`bind EADDRINUSE`, with `port` and `address`); a lone one the `listen` one.
 *
 * @example
 *   cannotStartMessage(error, [{ variable: 'PORT', port: 8000, hostVariable: 'HOST', host: '0.0.0.0' }]);
 *   // 'PORT 8000 is in use on 0.0.0.0; set PORT to a free port'
 */
export function cannotStartMessage(error: unknown, settings: readonly ListenSetting[]): string | null {
  if (error instanceof ConfigError) return error.message;
  if (typeof error !== 'object' || error === null) return null;
  const { code, syscall, port, address } = error as ListenError;
  if (syscall !== 'listen' && syscall !== 'bind') return null;
  const setting = settings.find((candidate) => candidate.port === port);
  const name = setting === undefined ? `port ${String(port)}` : `${setting.variable} ${setting.port}`;
  const host = typeof address === 'string' ? address : (setting?.host ?? '');
  const note = setting?.note === undefined ? '' : ` ${setting.note}`;
  const set = setting === undefined ? 'choose another port' : `set ${setting.variable} to a free port${note}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${name} is in use on ${host}; ${set}`;
    case 'EACCES':
      return `${name} on ${host} needs privileges this process lacks; ${set} (above 1023)`;
    case 'EADDRNOTAVAIL':
      return setting === undefined
        ? `${host} is not an address of this host`
        : `${setting.hostVariable} ${host} is not an address of this host; set ${setting.hostVariable} to one of its addresses (or 0.0.0.0)`;
    default:
      return null;
  }
}
