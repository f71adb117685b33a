// A real OpenID provider (the npm package oidc-provider, tests/node) on loopback, for the web sign-in test.
// Usage: node tests/web/oidc_idp.mjs PORT REDIRECT_URI POST_LOGOUT_URI
// One public client, "avvikelser-web", authorization code with PKCE; the development login page accepts any
// name and signs in a person of that id named "Olivia Omsorg". Prints "ready ISSUER" once it listens.
// Imported by path: node resolves packages from the importing file's folder, and tests/node holds them.
import Provider from "../node/node_modules/oidc-provider/lib/index.js";

const [port, redirectUri, postLogoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: "avvikelser-web",
    token_endpoint_auth_method: "none",
    application_type: "web",
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  pkce: { required: () => true },
  conformIdTokenClaims: false, // the name in the ID token itself, as many IdPs are set up to do
  claims: { openid: ["sub"], profile: ["name"] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, name: "Olivia Omsorg" }) }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["test-only-cookie-key"] },
});
provider.on("server_error", (ctx, error) => console.error("server_error", error));
provider.listen(Number(port), "127.0.0.1", () => console.log(`ready ${issuer}`));
