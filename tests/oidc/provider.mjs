// A real, OpenID Certified provider (panva's `oidc-provider`) for the login tests.
//
// Usage: node tests/oidc/provider.mjs <config.json>
// The JSON file, written by tests/oidc/server.py, holds:
//   port, issuer, audience          where to listen, the `iss` it signs, the API's resource
//   jwks                            its private signing keys (the tests sign bad tokens too)
//   clients                         OAuth clients (the gateway's, API clients)
//   accounts                        { login: {email, name, groups} } users who may sign in
//   admin_group                     (informational)
// It prints "listening <issuer>" on stdout once it accepts connections.
//
// Sign-in goes through the provider's development login and consent forms
// (devInteractions): any password is accepted for a login listed in `accounts`.

import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accessTokenTtl = config.access_token_ttl_seconds ?? 600;

function account(login) {
  const person = config.accounts[login];
  if (!person) return undefined;
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        email: person.email,
        email_verified: true,
        name: person.name ?? login,
        groups: person.groups ?? [],
      };
    },
  };
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: ['upskill-tests-only-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The API's scopes are listed too: dynamic registration accepts only known scopes.
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access', ...(config.api_scopes ?? [])],
  // PKCE (S256) for every client that uses the authorization endpoint, confidential too.
  pkce: { required: () => true },
  ttl: {
    AccessToken: accessTokenTtl,
    ClientCredentials: accessTokenTtl,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    AuthorizationCode: 60,
  },
  async findAccount(ctx, id) {
    return account(id);
  },
  // The access token carries who the user is (email, groups), as Keycloak's do, so that
  // the services can decide without a userinfo call.
  async extraTokenClaims(ctx, token) {
    if (!token.accountId) return undefined;
    const person = config.accounts[token.accountId];
    if (!person) return undefined;
    return { email: person.email, email_verified: true, groups: person.groups ?? [] };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    // Dynamic client registration (RFC 7591), as OB 3.0 section 6 asks of a wallet.
    registration: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // Access tokens are JWTs for one audience: our API.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== config.audience) throw new errors.InvalidTarget();
        return {
          // The API's own scopes, the Open Badges 3.0 ones included: a wallet asks for
          // them in the authorization request and the token's `scope` claim carries them.
          scope: ['openid email profile groups api', ...(config.api_scopes ?? [])].join(' '),
          audience: config.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: accessTokenTtl,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // Never ask again for the gateway, a first-party client: consent is still a real form
  // the first time, which the tests fill in.
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>error</title><pre id="error">${
      String(out.error).replace(/[<>&]/g, '')}: ${
      String(out.error_description ?? '').replace(/[<>&]/g, '')}</pre>`;
  },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${config.issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
