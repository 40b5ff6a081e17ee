// A real OpenID Connect provider on loopback for the tests: panva's certified node-oidc-provider
// (npm `oidc-provider`) with its development login screen. Usage: node oidc_provider.mjs PORT CLIENT SECRET REDIRECT
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const groups = { carol: ["ml-team"], dave: [] };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
    grant_types: ["authorization_code"], response_types: ["code"],
  }],
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username", "groups"] },
  conformIdTokenClaims: false,  // the ID token carries the profile claims (as Keycloak and Entra ID do)
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["hubd-test-provider-key"] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, email: `${id}@corp.example`, email_verified: true, name: `${id} Example`,
                 preferred_username: id, groups: groups[id] || [] };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
