import { fileURLToPath } from 'node:url';
import { Forked } from '../lib/forked.ts';
import type { FromClients, ToClients } from './protocol.ts';

const CLIENTS_SCRIPT = fileURLToPath(new URL('./clients.ts', import.meta.url));

/** The forked process holding the renewal bench's client sockets (./clients.ts). */
export type ClientProcess = Forked<ToClients, FromClients>;

/** Starts it; `next('connected')` resolves with its next message of that type (see Forked). */
export function startClientProcess(): ClientProcess {
  return new Forked<ToClients, FromClients>(CLIENTS_SCRIPT);
}
