// The demo page: log in, subscribe, publish, and watch what the server says. Loaded as a module
// from index.html (the page's CSP allows no inline script). Everything shown is set with
// textContent, so names, messages and errors from the server are never parsed as HTML.
import { createWardenClient } from '/warden-client.js';

const MAX_LOG_ENTRIES = 200;

const $ = (id) => document.getElementById(id);
const ui = {
  username: $('username'),
  password: $('password'),
  login: $('login'),
  logout: $('logout'),
  status: $('status'),
  connection: $('connection'),
  channel: $('channel'),
  message: $('message'),
  subscribe: $('subscribe'),
  publish: $('publish'),
  log: $('log'),
};

const warden = createWardenClient();
let connected = false;

/** Appends a line to #log; `kind` is `message`, `error` or `info` (its CSS class). */
function log(kind, text) {
  const entry = document.createElement('li');
  entry.className = kind;
  entry.textContent = text;
  ui.log.append(entry);
  while (ui.log.childElementCount > MAX_LOG_ENTRIES) ui.log.firstElementChild.remove();
  entry.scrollIntoView({ block: 'nearest' });
}

/** Shows an error as the server named it: `PublishError: channel "news" is not ...`. */
function logError(error) {
  log('error', `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`);
}

function render() {
  const username = warden.username;
  if (username !== null) {
    ui.status.textContent = `authenticated as ${username}`;
    ui.status.dataset.state = 'authenticated';
  } else if (connected) {
    ui.status.textContent = 'not logged in';
    ui.status.dataset.state = 'unauthenticated';
  }
  // Before the first handshake the page cannot tell: a stored token may still be accepted.
  ui.login.disabled = username !== null;
  ui.logout.disabled = username === null;
  ui.connection.textContent = warden.state === 'open' ? 'connected' : warden.state;
  ui.connection.dataset.state = warden.state;
}

function formatMessage(data) {
  if (data !== null && typeof data === 'object' && typeof data.text === 'string') return data.text;
  return JSON.stringify(data);
}

warden.on('connect', ({ authError }) => {
  connected = true;
  // A stored token the server refused (expired, revoked, replaced): say why.
  if (authError) logError(authError);
  render();
});
warden.on('disconnect', ({ code }) => {
  log('info', `disconnected (${code}); reconnecting`);
  render();
});
warden.on('authStateChange', render);
warden.on('authEnded', (reason) => logError(reason));
warden.on('kickOut', ({ channel }) => log('info', `removed from ${channel}`));
warden.on('message', ({ channel, data }) => log('message', `${channel}: ${formatMessage(data)}`));
warden.on('error', logError);

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  ui.login.disabled = true;
  try {
    const { username } = await warden.login(ui.username.value.trim(), ui.password.value);
    log('info', `logged in as ${username}`);
  } catch (error) {
    logError(error);
  } finally {
    ui.password.value = '';
    render();
  }
});

ui.logout.addEventListener('click', async () => {
  try {
    await warden.logout();
    log('info', 'logged out');
  } catch (error) {
    logError(error);
  } finally {
    render();
  }
});

ui.subscribe.addEventListener('click', async () => {
  const channel = ui.channel.value.trim();
  try {
    await warden.subscribe(channel);
    log('info', `subscribed to ${channel}`);
  } catch (error) {
    logError(error);
  }
});

$('channel-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await warden.publish(ui.channel.value.trim(), { text: ui.message.value });
    ui.message.value = '';
  } catch (error) {
    logError(error);
  }
});

render();
