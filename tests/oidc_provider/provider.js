// A real OpenID Provider for the tests: the certified `oidc-provider` package on loopback.
//
//   node provider.js PORT
//
// It prints "listening http://127.0.0.1:PORT" when it answers. The test fixture
// (tests/oidc.py) configures it over HTTP with POST /__test/config, a JSON document:
//
//   {"clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//    "accounts": {"alice": {"claims": {...}, "acr": "...", "amr": ["pwd", "mfa"]}},
//    "id_token_ttl": 600,              seconds an ID token is valid (a short one expires)
//    "id_token_audience": null}        when set, ID tokens name this audience instead of
//                                      the client (the provider's own key signs them)
//
// POST /__test/rotate replaces the signing key with a new one (a new `kid`; the old key is
// no longer in the JWKS). Each change builds a new Provider on the same issuer, so what it
// held in memory (sessions, codes) starts afresh.
//
// The login page (GET /interaction/:uid) is a plain form; the tests POST the account's
// name to /interaction/:uid/login. Consent is implied (first-party clients).
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

let settings = { clients: [], accounts: {}, id_token_ttl: 600, id_token_audience: null };
let keys = [newKey()];
let provider = build();

function build() {
  const made = new Provider(issuer, {
    clients: settings.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris || [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys },
    acrValues: ['urn:etoegang:core:assurance-class:loa2', 'urn:etoegang:core:assurance-class:loa3'],
    claims: {
      // How the person signed in travels in every ID token (DigiD's level through a broker).
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups', 'roles'],
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    ttl: { IdToken: () => settings.id_token_ttl },
    cookies: { keys: ['test-cookie-key'] },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = settings.accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups', 'roles']);
      await grant.save();
      ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId, grant.jti);
      return grant;
    },
  });
  // A fixture-controlled audience: the provider itself signs the token, with its own key.
  const issue = made.IdToken.prototype.issue;
  made.IdToken.prototype.issue = function patched(options) {
    if (settings.id_token_audience && options?.use === 'idtoken') {
      const { client } = this;
      this.client = new Proxy(client, {
        get: (target, name) => (name === 'clientId' ? settings.id_token_audience : Reflect.get(target, name)),
      });
    }
    return issue.call(this, options);
  };
  return made;
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function send(res, status, type, text) {
  res.writeHead(status, { 'content-type': type });
  res.end(text);
}

async function interaction(req, res, uid, action) {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, 'text/plain', 'wrong interaction');
    if (req.method === 'GET') {
      return send(res, 200, 'text/html', `<!doctype html><title>Test provider</title>
<form method="post" action="/interaction/${uid}/login">
<label>Account <input name="login"></label><button>Log in</button></form>`);
    }
    if (action !== 'login') return send(res, 404, 'text/plain', 'no such action');
    const login = new URLSearchParams(await body(req)).get('login');
    const account = settings.accounts[login];
    if (!account) return send(res, 403, 'text/plain', 'unknown account');
    const result = { login: { accountId: login, acr: account.acr, amr: account.amr } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (error) {
    return send(res, 400, 'text/plain', String(error));
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/__test/config' && req.method === 'POST') {
    settings = { ...settings, ...JSON.parse(await body(req)) };
    provider = build();
    return send(res, 204, 'text/plain', '');
  }
  if (url.pathname === '/__test/rotate' && req.method === 'POST') {
    keys = [newKey()];
    provider = build();
    return send(res, 200, 'application/json', JSON.stringify({ kid: keys[0].kid }));
  }
  const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
  if (match) return interaction(req, res, match[1], match[2]);
  return provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
