// An independent, certified OpenID provider (npm `oidc-provider`) standing in for BankID in
// tests. Started by `drop_testkit::oidc_provider::OidcProvider`; never used in production.
//
// Environment:
//   PORT           port on 127.0.0.1; 0 picks a free one
//   CLIENT_ID      the one registered client (client_secret_basic, authorization_code, code)
//   CLIENT_SECRET
//   REDIRECT_URI   its only redirect URI
//   ACR            the `acr` every login is at (default urn:bankid:bid)
//   CLAIMS_IN      `id_token` (default): every granted claim is in the ID token, as BankID does;
//                  `userinfo`: the ID token carries only `sub` (the spec's default for the code
//                  flow), every other claim comes from userinfo, answered as a signed JWT
//
// Prints `READY <port>` on stdout once it listens.
//
// Test accounts, by the login name typed into the development login form:
//   adult      15108695088  born 1986-10-15 (female; a vector of the shared specs)
//   minor      17051050037  born 2010-05-17 (16 on 2026-11-22)
//   dnumber    41018510187  D-number, born 1985-01-01
//   synthetic  12839010182  synthetic (+80 on the month), born 1990-03-12
//   badfnr     12345678901  not a valid number
//   noaltsub   15108695088  no bankid_altsub claim
// Any other login name is an unknown account.

import * as http from 'node:http';
import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`provider.mjs: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(process.env.PORT ?? '0', 10);
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const redirectUri = required('REDIRECT_URI');
const claimsIn = process.env.CLAIMS_IN ?? 'id_token';
if (!['id_token', 'userinfo'].includes(claimsIn)) {
  process.stderr.write(`provider.mjs: CLAIMS_IN must be id_token or userinfo, not ${claimsIn}\n`);
  process.exit(2);
}
const userinfoJwt = claimsIn === 'userinfo';

const ACCOUNTS = {
  adult: {
    nnin_altsub: '15108695088', birthdate: '1986-10-15', given_name: 'Kari', family_name: 'Nordmann',
  },
  minor: {
    nnin_altsub: '17051050037', birthdate: '2010-05-17', given_name: 'Ola', family_name: 'Nordmann',
  },
  dnumber: {
    nnin_altsub: '41018510187', birthdate: '1985-01-01', given_name: 'Jan', family_name: 'Kowalski',
  },
  synthetic: {
    nnin_altsub: '12839010182', birthdate: '1990-03-12', given_name: 'Test', family_name: 'Syntetisk',
  },
  badfnr: {
    nnin_altsub: '12345678901', birthdate: '1986-10-15', given_name: 'Feil', family_name: 'Nummer',
  },
  noaltsub: {
    nnin_altsub: '15108695088', birthdate: '1986-10-15', given_name: 'Uten', family_name: 'Altsub',
    altsub: false,
  },
};

function accountClaims(login) {
  const { altsub = true, ...person } = ACCOUNTS[login];
  const claims = {
    sub: `sub-${login}`,
    ...person,
    name: `${person.given_name} ${person.family_name}`,
  };
  if (altsub) {
    claims.bankid_altsub = `altsub-${login}`;
  }
  return claims;
}

// Listen first, so that PORT=0 gives the port the issuer URL must name.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const actualPort = server.address().port;
const issuer = `http://127.0.0.1:${actualPort}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    ...(userinfoJwt ? { userinfo_signed_response_alg: 'RS256' } : {}),
  }],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: userinfoJwt },
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'birthdate', 'bankid_altsub'],
    nnin_altsub: ['nnin_altsub'],
  },
  conformIdTokenClaims: userinfoJwt,
  acrValues: ['urn:bankid:bid', 'urn:bankid:bis'],
  cookies: { keys: ['drop-test-cookie-key-1', 'drop-test-cookie-key-2'] },
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(ACCOUNTS, id)) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return accountClaims(id);
      },
    };
  },
});

// BankID states the level a person signed in at in `acr`. The development login form sets
// none, so every login here is at the level ACR names (default urn:bankid:bid, BankID's high
// level; urn:bankid:bis is the substantial one a test may ask for).
const acr = process.env.ACR ?? 'urn:bankid:bid';
const finishInteraction = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => finishInteraction(
  req,
  res,
  result?.login ? { ...result, login: { ...result.login, acr } } : result,
  options,
);

server.on('request', provider.callback());

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
// The test harness holds our stdin open: when it goes away (even killed), so do we.
if (process.env.EXIT_ON_STDIN_CLOSE === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

process.stdout.write(`READY ${actualPort}\n`);
