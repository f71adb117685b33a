// A real OpenID provider (oidc-provider) on loopback, for the tests in tests/api/test_oidc.py.
//
//   node tests/node/oidc_provider.mjs AUDIENCE RESOURCE OTHER_RESOURCE REDIRECT_URI CLIENT_SECRET
//
// Listens on a free port of 127.0.0.1 and prints one JSON line to stdout when it answers (oidc-provider
// prints notices there too: the reader skips lines that are not JSON objects):
// {"issuer": "http://127.0.0.1:PORT", "kid": "<signing key id>"}. Then it reads commands from stdin,
// one a line, and answers each with one JSON line:
//   rotate   a new signing key signs from now on; the old one stays published (as during a rollover)
// It stops when stdin closes.
//
// Clients:
//   integration   client_credentials (client_secret_post); JWT access tokens for RESOURCE (aud AUDIENCE)
//                 or OTHER_RESOURCE (aud "another-api")
//   webapp        authorization code + PKCE, public; the same JWT access tokens, and ID tokens
//   AUDIENCE      like webapp, but named like the API: its ID tokens say aud AUDIENCE (as a Keycloak
//                 client named after the API would)
// Logins go through oidc-provider's development interactions: any login name is accepted.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import { Provider, errors } from 'oidc-provider';

const [audience, resource, otherResource, redirectUri, clientSecret] = process.argv.slice(2);
if (!clientSecret) {
  console.error('usage: node oidc_provider.mjs AUDIENCE RESOURCE OTHER_RESOURCE REDIRECT_URI CLIENT_SECRET');
  process.exit(2);
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

const resourceServers = {
  [resource]: { scope: 'reports', audience },
  [otherResource]: { scope: 'reports', audience: 'another-api' },
};

const publicClient = (clientId) => ({
  client_id: clientId,
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [redirectUri],
});

function configuration(keys) {
  return {
    clients: [
      {
        client_id: 'integration',
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      publicClient('webapp'),
      publicClient(audience),
    ],
    // The first key signs; every key is published in the JWKS.
    jwks: { keys },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, name: `User ${sub}`, preferred_username: sub };
        },
      };
    },
    cookies: { keys: ['only-for-tests-on-loopback'] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf ?? resource,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const server = resourceServers[indicator];
          if (!server) throw new errors.InvalidTarget();
          return { ...server, accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    pkce: { required: () => true },
    ttl: { ClientCredentials: 300 },
  };
}

let keys = [signingKey()];
let provider = null;
let handler = null;

const server = createServer((req, res) => {
  if (!handler) {
    res.statusCode = 503;
    res.end();
    return;
  }
  handler(req, res);
});

function start(issuer) {
  provider = new Provider(issuer, configuration(keys));
  provider.on('server_error', (ctx, error) => console.error('oidc-provider server_error:', error));
  handler = provider.callback();
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  start(issuer);
  console.log(JSON.stringify({ issuer, kid: keys[0].kid }));

  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line.trim() === 'rotate') {
      keys = [signingKey(), ...keys];
      start(issuer);
      console.log(JSON.stringify({ rotated: true, kid: keys[0].kid }));
    } else {
      console.log(JSON.stringify({ error: `unknown command ${line.trim()}` }));
    }
  });
  commands.on('close', () => {
    server.close();
    server.closeAllConnections();
  });
});
