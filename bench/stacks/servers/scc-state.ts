/**
 * The state server of the SC + SCC stack. scc-state, SocketCluster's own, is not on npm, so this
 * is Warden's protocol-compatible state server module (the only Warden code in that stack),
 * with short start-up and scale-out delays so the stack is up quickly. SCC_AUTH_KEY is the key
 * every component presents.
 */
import { startStateServer } from '../../../cluster/state-server.ts';
import type { Logger } from '../../../log/logger.ts';
import { serveBench } from './ipc.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let close = async () => {};

serveBench(
  async () => {
    const state = await startStateServer({
      port: 0,
      host: '127.0.0.1',
      authKey: process.env.SCC_AUTH_KEY ?? '',
      log: quiet,
      startupDelay: 0,
      scaleOutDelay: 50,
    });
    close = () => state.close();
    return { port: state.port, token: null, others: [] };
  },
  () => close(),
);
