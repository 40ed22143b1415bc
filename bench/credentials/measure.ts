/**
 * By hand, not part of `npm run bench`: ticket redemption latency and handshake cost with the
 * session cookie against a token, on one worker over loopback with a fresh MariaDB database.
 * Each figure is the median (and p90) of ROUNDS sequential operations, the kinds interleaved so
 * that the host's other work falls on all of them alike. Worker and clients share one process.
 *
 *   node --import tsx bench/credentials/measure.ts
 */
import { performance } from 'node:perf_hooks';
import { connectClient } from '../../test/helpers/clients.ts';
import { startTestWarden } from '../../test/helpers/warden.ts';
import { summarize } from '../lib/stats.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 200);

async function post(url: string, headers: Record<string, string>, body: unknown = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    json: (await response.json()) as Record<string, string>,
    cookie: response.headers.get('set-cookie'),
  };
}

const warden = await startTestWarden({ AUTH_COOKIE: 'on', LOG_LEVEL: 'error' });
const origin = `http://127.0.0.1:${warden.port}`;
const { user, password } = await warden.createUser();
const login = await post(`${warden.url}/auth/login`, { origin }, { username: user.username, password });
const token = login.json.token as string;
const cookie = (login.cookie as string).split(';')[0] as string;

const samples: Record<string, number[]> = {
  'connect with token': [],
  'connect with cookie': [],
  'POST /auth/ticket': [],
  'connect with ?ticket=': [],
  "invoke('login', {ticket})": [],
};
const time = async (name: string, work: () => Promise<void>) => {
  const start = performance.now();
  await work();
  samples[name]?.push(performance.now() - start);
};

for (let round = 0; round < ROUNDS; round++) {
  await time('connect with token', async () => {
    const client = await connectClient(warden.port, { token });
    if (!client.status.isAuthenticated) throw new Error('token refused');
    client.socket.disconnect();
  });
  await time('connect with cookie', async () => {
    const client = await connectClient(warden.port, { headers: { cookie }, origin });
    if (!client.status.isAuthenticated) throw new Error('cookie refused');
    client.socket.disconnect();
  });
  let ticket = '';
  await time('POST /auth/ticket', async () => {
    ticket = (await post(`${warden.url}/auth/ticket`, { authorization: `Bearer ${token}` })).json
      .ticket as string;
  });
  await time('connect with ?ticket=', async () => {
    const client = await connectClient(warden.port, { query: { ticket } });
    if (!client.status.isAuthenticated) throw new Error('ticket refused');
    client.socket.disconnect();
  });
  const other = (await post(`${warden.url}/auth/ticket`, { authorization: `Bearer ${token}` })).json
    .ticket as string;
  const client = await connectClient(warden.port);
  await time("invoke('login', {ticket})", async () => {
    await client.socket.invoke('login', { ticket: other });
  });
  client.socket.disconnect();
}

console.log(`${ROUNDS} rounds, ms (one worker, MariaDB, loopback; clients in the same process)`);
for (const [name, values] of Object.entries(samples)) {
  const summary = summarize(values);
  console.log(`${name.padEnd(28)} p50 ${summary?.p50.toFixed(2)}  p90 ${summary?.p90.toFixed(2)}`);
}
await warden.close();
