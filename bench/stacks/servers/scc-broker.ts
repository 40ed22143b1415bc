/**
 * One scc-broker (SocketCluster's own broker, its server script unchanged), for the SC + SCC
 * stack. The script listens on every interface and reads no host setting, so its one
 * `http.createServer()` is made to listen on 127.0.0.1 while it loads. Environment: the SCC_*
 * variables scc-broker reads (state server host and port, broker port, auth key).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { heapAfterGc, send } from './ipc.ts';

const require = createRequire(import.meta.url);
const http = require('node:http') as typeof import('node:http');
const original = http.createServer;
let server: Server | null = null;
http.createServer = ((...args: Parameters<typeof original>) => {
  const created = original(...args);
  const listen = created.listen.bind(created) as (port: number, host: string) => Server;
  created.listen = ((port: number) => listen(port, '127.0.0.1')) as Server['listen'];
  server = created;
  return created;
}) as typeof original;
try {
  require('scc-broker/server.js');
} finally {
  http.createServer = original;
}
process.on('disconnect', () => process.exit(0));
process.on('message', (message: { type: string }) => {
  if (message.type === 'heap') send({ type: 'heap', bytes: heapAfterGc() });
  if (message.type === 'close') process.exit(0);
});
const listening = server as Server | null;
if (listening === null) throw new Error('scc-broker created no HTTP server');
const ready = () =>
  send({ type: 'ready', port: Number(process.env.SCC_BROKER_SERVER_PORT), token: null, others: [] });
if (listening.listening) ready();
else listening.once('listening', ready);
