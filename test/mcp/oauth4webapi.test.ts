/** oauth4webapi, a strict OAuth 2 / OIDC client, accepts the gateway's metadata, registration, callback (iss), tokens, refresh and revocation. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as oauth from "oauth4webapi";
import { harness, signIn, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49997/cb";
let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(() => h.stop());

test("discovery → registration → authorize → code → tokens → refresh → revoke, all validated strictly", async () => {
  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(h.gw.gw.routes.current().publicUrl.origin);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: "oauth2" }));
  expect(as.code_challenge_methods_supported).toContain("S256");

  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_name: "oauth4webapi" }, insecure),
  );
  const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: "none" };

  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    scope: "mcp offline_access",
    resource: `${issuer.origin}/mcp`,
  }).toString();
  const back = await signIn(url.href, "alice", REDIRECT);
  const params = oauth.validateAuthResponse(as, client, back, state); // checks iss (RFC 9207) too
  const tokens = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, verifier, insecure),
  );
  expect(tokens.token_type).toBe("bearer");
  expect(tokens.refresh_token).toBeString();
  expect(tokens.scope).toBe("mcp offline_access");

  const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure));
  expect(refreshed.access_token).not.toBe(tokens.access_token);

  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), refreshed.refresh_token!, insecure));
  const after = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token!, insecure);
  await expect(oauth.processRefreshTokenResponse(as, client, after)).rejects.toThrow();
});
