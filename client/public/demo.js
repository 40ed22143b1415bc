// The demo page: log in, see what the token allows, subscribe, publish, and watch the server renew
// and end the authentication. Loaded as a module from index.html (the page's CSP allows no inline
// script). Everything shown is set with textContent, so names, messages and errors from the
// server are never parsed as HTML.
import { createWardenClient } from '/warden-client.js';

const MAX_LOG_ENTRIES = 200;
/** The channels this page subscribed to, kept across a reload (the page's own choice, not the token's). */
const SUBSCRIPTIONS_KEY = 'warden-demo.subscriptions';

const $ = (id) => document.getElementById(id);
const ui = {
  loginForm: $('login-form'),
  username: $('username'),
  password: $('password'),
  login: $('login'),
  logout: $('logout'),
  session: $('session'),
  who: $('who'),
  roles: $('roles'),
  expiry: $('expiry'),
  status: $('status'),
  connection: $('connection'),
  worker: $('worker'),
  channel: $('channel'),
  message: $('message'),
  subscribe: $('subscribe'),
  subscriptions: $('subscriptions'),
  noSubscriptions: $('no-subscriptions'),
  log: $('log'),
};

const warden = createWardenClient();
// For trying the client from the devtools console.
window.warden = warden;
let connected = false;

const time = (date = new Date()) => date.toLocaleTimeString([], { hour12: false });

/** Appends a line to #log; `kind` is `message`, `error` or `info` (its CSS class). */
function log(kind, text) {
  const entry = document.createElement('li');
  entry.className = kind;
  const stamp = document.createElement('time');
  stamp.dateTime = new Date().toISOString();
  stamp.textContent = time();
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  entry.append(stamp, ' ', body);
  ui.log.append(entry);
  while (ui.log.childElementCount > MAX_LOG_ENTRIES) ui.log.firstElementChild.remove();
  entry.scrollIntoView({ block: 'nearest' });
}

/** Shows an error as the server named it: `PublishError: channel "news" is not ...`. */
function logError(error) {
  log('error', `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`);
}

function savedChannels() {
  try {
    const list = JSON.parse(localStorage.getItem(SUBSCRIPTIONS_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((name) => typeof name === 'string') : [];
  } catch {
    return [];
  }
}

function saveChannels(channels) {
  if (channels.length === 0) localStorage.removeItem(SUBSCRIPTIONS_KEY);
  else localStorage.setItem(SUBSCRIPTIONS_KEY, JSON.stringify(channels));
}

function fillList(list, items) {
  list.replaceChildren(
    ...(items.length === 0 ? ['none'] : items).map((item) => {
      const li = document.createElement('li');
      li.textContent = item;
      return li;
    }),
  );
}

function renderSubscriptions() {
  const channels = warden.subscriptions;
  ui.noSubscriptions.hidden = channels.length > 0;
  ui.subscriptions.replaceChildren(
    ...channels.map((channel) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = channel;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Unsubscribe';
      button.setAttribute('aria-label', `Unsubscribe from ${channel}`);
      button.dataset.channel = channel;
      button.addEventListener('click', () => {
        warden.unsubscribe(channel);
        saveChannels(savedChannels().filter((name) => name !== channel));
        log('info', `unsubscribed from ${channel}`);
      });
      li.append(name, ' ', button);
      return li;
    }),
  );
}

function renderExpiry() {
  const expiresAt = warden.expiresAt;
  if (expiresAt === null) {
    ui.expiry.textContent = '';
    return;
  }
  const left = Math.max(0, Math.round(expiresAt - Date.now() / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  ui.expiry.dateTime = new Date(expiresAt * 1000).toISOString();
  ui.expiry.textContent = `in ${minutes}:${seconds} (at ${time(new Date(expiresAt * 1000))})`;
}

function render() {
  const claims = warden.claims;
  if (claims !== null) {
    ui.status.textContent = `authenticated as ${claims.username}`;
    ui.status.dataset.state = 'authenticated';
  } else if (connected) {
    ui.status.textContent = 'not logged in';
    ui.status.dataset.state = 'unauthenticated';
  }
  const wasHidden = ui.session.hidden;
  ui.loginForm.hidden = claims !== null;
  ui.session.hidden = claims === null;
  if (claims !== null) {
    ui.who.textContent = claims.tenant ? `${claims.username} (tenant ${claims.tenant})` : claims.username;
    ui.roles.textContent = (claims.roles ?? []).join(', ') || 'none';
    fillList($('perm-publish'), claims.publish ?? []);
    fillList($('perm-subscribe'), claims.subscribe ?? []);
    fillList($('perm-invoke'), claims.invoke ?? []);
    // Keyboard users land on the next thing to do, not on a hidden form.
    if (wasHidden && document.activeElement === ui.login) ui.logout.focus();
  }
  renderExpiry();
  ui.connection.textContent = warden.connection === 'open' ? 'connected' : warden.connection;
  ui.connection.dataset.state = warden.connection;
  ui.worker.textContent = warden.servedBy === null ? '' : `served by ${warden.servedBy}`;
  renderSubscriptions();
}

function formatMessage(data) {
  if (data !== null && typeof data === 'object' && typeof data.text === 'string') return data.text;
  return JSON.stringify(data);
}

async function subscribe(channel) {
  try {
    await warden.subscribe(channel);
    log('info', `subscribed to ${channel}`);
    if (!savedChannels().includes(channel)) saveChannels([...savedChannels(), channel]);
  } catch (error) {
    logError(error);
  }
  renderSubscriptions();
}

warden.on('connect', () => {
  connected = true;
  render();
});
warden.on('connection', ({ state, code, terminal, why }) => {
  if (state === 'closed' && terminal) log('error', `disconnected (${code}): ${why ?? 'not retrying'}`);
  else if (state === 'closed') log('info', `disconnected (${code}); reconnecting`);
  render();
});
warden.on('receive', render);
warden.on('authenticated', ({ claims, source }) => {
  // How long this page took from navigation to an authenticated socket (shown in the devtools).
  document.body.dataset.authenticatedAfterMs ??= String(Math.round(performance.now()));
  if (source === 'login') log('info', `logged in as ${claims.username}`);
  else if (source === 'tab') log('info', `logged in as ${claims.username} in another tab`);
  else log('info', `authenticated as ${claims.username} from the stored token`);
  render();
  // The subscriptions of the last visit, asked for again now that the token allows them.
  for (const channel of savedChannels()) if (!warden.subscriptions.includes(channel)) void subscribe(channel);
});
warden.on('renewed', ({ expiresAt, source }) => {
  log(
    'info',
    `token renewed${source === 'tab' ? ' in another tab' : ''}; expires at ${time(new Date(expiresAt * 1000))}`,
  );
  render();
});
warden.on('expiring', ({ inSeconds }) => log('info', `token expires in ${inSeconds} s`));
warden.on('authEnded', ({ reason, error }) => {
  if (reason === 'logout') log('info', 'logged out');
  else if (reason === 'logout-elsewhere') log('info', 'logged out in another tab or client');
  else if (error !== null) log('error', `${error.name}: ${error.message} (${reason})`);
  else log('error', `authentication ended (${reason})`);
  render();
});
warden.on('kickOut', ({ channel }) => log('info', `removed from ${channel}`));
warden.on('subscriptions', renderSubscriptions);
warden.on('message', ({ channel, data }) => log('message', `${channel}: ${formatMessage(data)}`));

ui.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  ui.login.disabled = true;
  try {
    await warden.login(ui.username.value.trim(), ui.password.value);
  } catch (error) {
    logError(error);
  } finally {
    ui.password.value = '';
    ui.login.disabled = false;
    render();
  }
});

ui.logout.addEventListener('click', async () => {
  try {
    await warden.logout();
  } catch (error) {
    logError(error);
  } finally {
    render();
    ui.username.focus();
  }
});

ui.subscribe.addEventListener('click', () => void subscribe(ui.channel.value.trim()));

$('channel-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await warden.publish(ui.channel.value.trim(), { text: ui.message.value });
    ui.message.value = '';
  } catch (error) {
    logError(error);
  }
});

/** The demo users and what each may do (the server lists them outside production only). */
async function showDemoUsers() {
  const response = await fetch('/demo/users').catch(() => null);
  if (response === null || !response.ok) return;
  const { users } = await response.json();
  $('demo-users-body').replaceChildren(
    ...users.map((user) => {
      const row = document.createElement('tr');
      const cells = [user.username, user.publish, user.subscribe, user.invoke].map((value, index) => {
        const cell = document.createElement(index === 0 ? 'th' : 'td');
        if (index === 0) cell.scope = 'row';
        cell.textContent = Array.isArray(value) ? value.join(', ') || '–' : value;
        return cell;
      });
      row.append(...cells);
      return row;
    }),
  );
  $('demo-users').hidden = false;
}

setInterval(renderExpiry, 1000);
void showDemoUsers();
render();
