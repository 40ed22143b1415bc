/**
 * Where a client keeps its token: socketcluster-client's "auth engine" interface (three promise
 * methods keyed by name), so the socket loads it for every handshake and saves every new one.
 */
export interface TokenStorage {
  saveToken(name: string, token: string, options?: object): Promise<string>;
  removeToken(name: string): Promise<string | null>;
  loadToken(name: string): Promise<string | null>;
}

/**
 * Keeps the token in this object only: gone with the page or the process. The default in Node and
 * for the `ticket` and `cookie` modes, where no script-readable copy should outlive the page.
 *
 * @example
 *   createWardenClient({ url, storage: memoryTokenStorage() });
 */
export function memoryTokenStorage(): TokenStorage {
  const tokens = new Map<string, string>();
  return {
    saveToken: async (name, token) => {
      tokens.set(name, token);
      return token;
    },
    removeToken: async (name) => {
      const old = tokens.get(name) ?? null;
      tokens.delete(name);
      return old;
    },
    loadToken: async (name) => tokens.get(name) ?? null,
  };
}

/**
 * Keeps the token in `localStorage` (the `token` mode in a browser): every tab of the origin
 * shares it, and a reload is authenticated in the handshake. Falls back to memory where
 * localStorage throws (Safari private windows, a sandboxed frame).
 */
export function localTokenStorage(): TokenStorage {
  const fallback = memoryTokenStorage();
  const store = usableLocalStorage();
  if (store === null) return fallback;
  return {
    saveToken: async (name, token) => {
      store.setItem(name, token);
      return token;
    },
    removeToken: async (name) => {
      const old = store.getItem(name);
      store.removeItem(name);
      return old;
    },
    loadToken: async (name) => store.getItem(name),
  };
}

function usableLocalStorage(): Storage | null {
  try {
    const store = globalThis.localStorage;
    if (store === undefined) return null;
    store.setItem('warden-client.probe', '1');
    store.removeItem('warden-client.probe');
    return store;
  } catch {
    return null;
  }
}
