// The few parts of oidc-provider (which ships no types) that test/helpers/oidc-provider.ts uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderClient {
    readonly clientId: string;
    /** Signs a logout token for (sub, sid) and POSTs it to the client's backchannel_logout_uri. */
    backchannelLogout(sub: string, sid: string): Promise<void>;
  }

  export interface ResourceServerToken {
    readonly accountId?: string;
    readonly clientId?: string;
    readonly sid?: string;
    readonly resourceServer?: { identifier(): string };
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    readonly Client: { find(id: string): Promise<ProviderClient | undefined> };
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
