/**
 * The one redaction rule: every credential format, in every position a log line can hold it, leaves
 * only its kind-telling prefix; ordinary text is returned unchanged (the very same string).
 */
import { describe, expect, test } from "bun:test";
import { isSecretName, REDACTED, redact, redactString } from "../../src/core/redact.ts";
import { randomToken } from "../../src/crypto/hash.ts";
import { FORMATS, rng } from "../helpers/credentials.ts";

/** Where a credential can sit in a logged string; `prefix` is what must remain there. */
const PLACES: { name: string; put: (v: string) => string; keeps: (prefix: string) => string }[] = [
  { name: "alone", put: (v) => v, keeps: (p) => `${p}…${REDACTED}` },
  { name: "a path segment", put: (v) => `/echo/${v}/x`, keeps: (p) => `/echo/${p}…${REDACTED}/x` },
  { name: "the last path segment", put: (v) => `/api/p/proxy/e/${v}`, keeps: (p) => `/api/p/proxy/e/${p}…${REDACTED}` },
  { name: "a query value under an innocent name", put: (v) => `/search?q=${v}&page=2`, keeps: (p) => `/search?q=${p}…${REDACTED}&page=2` },
  { name: "a query value under a secret name", put: (v) => `/cb?access_token=${v}`, keeps: (p) => `/cb?access_token=${p}…${REDACTED}` },
  { name: "an Authorization value", put: (v) => `Authorization: Bearer ${v}`, keeps: (p) => `Authorization: Bearer ${p}…${REDACTED}` },
  { name: "GitHub's token scheme", put: (v) => `token ${v}`, keeps: (p) => `token ${p}…${REDACTED}` },
  { name: "a JSON member", put: (v) => `{"refresh_token":"${v}","x":1}`, keeps: (p) => `{"refresh_token":"${p}…${REDACTED}","x":1}` },
  { name: "a sentence", put: (v) => `upstream said: bad key ${v}, try again`, keeps: (p) => `upstream said: bad key ${p}…${REDACTED}, try again` },
  { name: "a full URL", put: (v) => `https://api.example.com/v1/${v}?x=1`, keeps: (p) => `https://api.example.com/v1/${p}…${REDACTED}?x=1` },
  { name: "after an underscore", put: (v) => `GITHUB_TOKEN_${v}`, keeps: (p) => `GITHUB_TOKEN_${p}…${REDACTED}` },
];

describe("every credential format, in every place a log line can hold it", () => {
  for (const f of FORMATS)
    test(f.name, () => {
      for (let seed = 1; seed <= 25; seed++) {
        const value = f.make(rng(seed * 7919 + f.name.length));
        for (const place of PLACES) {
          const out = redactString(place.put(value));
          expect(out, `${place.name}, seed ${seed}: ${place.put(value)}`).toBe(place.keeps(f.prefix));
          expect(out).not.toContain(value.slice(f.prefix.length, f.prefix.length + 8));
        }
      }
    });
});

describe("credentials by name: query strings, fragments and JSON", () => {
  test.each([
    ["/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "/cb?code=[redacted]&state=xyz"],
    ["/v1?access_token=abc&refresh_token=def&id_token=ghi", "/v1?access_token=[redacted]&refresh_token=[redacted]&id_token=[redacted]"],
    ["/v1?client_secret=s3cr3t&client_id=app", "/v1?client_secret=[redacted]&client_id=app"],
    ["/maps?key=abc123&sensor=false", "/maps?key=[redacted]&sensor=false"],
    ["/x?api_key=1&apikey=2&api-key=3&x-api-key=4", "/x?api_key=[redacted]&apikey=[redacted]&api-key=[redacted]&x-api-key=[redacted]"],
    ["/x?token=t&password=p&sig=s", "/x?token=[redacted]&password=[redacted]&sig=[redacted]"],
    ["/x?Access_Token=a&ACCESS_TOKEN=b&accessToken=c", "/x?Access_Token=[redacted]&ACCESS_TOKEN=[redacted]&accessToken=[redacted]"],
    ["/s3?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", "/s3?X-Amz-Credential=AKIA…[redacted]&X-Amz-Signature=[redacted]"],
    ["https://app/cb#access_token=abc&token_type=bearer", "https://app/cb#access_token=[redacted]&token_type=bearer"],
    ["/x?token=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "/x?token=ghp_…[redacted]"],
    ['{"access_token":"abc.def","token_type":"bearer","expires_in":3600}', '{"access_token":"[redacted]","token_type":"bearer","expires_in":3600}'],
    ['{"error":"invalid_client","client_secret": "plain"}', '{"error":"invalid_client","client_secret": "[redacted]"}'],
    ["Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]"],
    ["bearer abcdefgh12345678", "bearer [redacted]"],
  ])("%s", (input, expected) => {
    expect(redactString(input)).toBe(expected);
  });

  test("the one-time connect link: the segment after /oauth/connect/ is the credential", () => {
    const link = randomToken();
    expect(redactString(`/oauth/connect/${link}`)).toBe("/oauth/connect/…[redacted]");
    expect(redactString(`http://gw.example/oauth/connect/${link}?x=1`)).toBe("http://gw.example/oauth/connect/…[redacted]?x=1");
    expect(redactString("/oauth/connect/:link")).toBe("/oauth/connect/:link"); // the route template stays readable
  });
});

describe("ordinary text is left alone", () => {
  test.each([
    "request",
    "GET",
    "/api/:project/proxy/:slug/*",
    "/repos/octo-org/hello-world/pulls/12",
    "8f14e45f-ceea-467f-a0e6-5d7c7b1d6a1c",
    "/v1/customers?limit=10&starting_after=cus_NffrFeUfNV2Hib",
    "/x?monkey=banana&sortkey=name&zipcode=12345&state=abc",
    "the token expired",
    "token verification failed; the token is unknown",
    "Bearer", // a scheme alone
    "ghp_docs and sk_live_ are prefixes, not keys",
    "sk-learn-model-registry-and-more-words",
    "task-manager-service-with-a-long-name-2",
    "mcp_Zm9vYmFyYmF6cXV4cXV1eA (an MCP client id is public)",
    "/oauth/callback?state=abc",
    '{"token_type":"bearer","scope":"repo"}',
    "value sealed with key k2, which is not configured (add it to storage.previous_app_keys)",
    "2026-12-02T04:00:00.000Z",
  ])("%s", (s) => {
    expect(redactString(s)).toBe(s);
  });
});

describe("by key: objects, arrays and errors", () => {
  test("a member whose name says credential is replaced entirely, whatever its value", () => {
    expect(
      redact({
        token: "plain",
        access_token: "x",
        clientSecret: "y",
        authorization: "Basic abc",
        "set-cookie": ["a=b"],
        private_key: { pem: "…" },
        nested: { refresh_token: "z", ok: "fine" },
        token_id: "tok_1",
        key: "server.port",
        code: "unseal_failed",
        empty_token: "",
        none_token: null,
      }),
    ).toEqual({
      token: REDACTED,
      access_token: REDACTED,
      clientSecret: REDACTED,
      authorization: REDACTED,
      "set-cookie": REDACTED,
      private_key: REDACTED,
      nested: { refresh_token: REDACTED, ok: "fine" },
      token_id: "tok_1", // an id names a token, it is not one
      key: "server.port", // `key` and `code` are credentials only as query parameters
      code: "unseal_failed",
      empty_token: "",
      none_token: null,
    });
  });

  test("names are judged case-insensitively, by suffix", () => {
    for (const n of ["TOKEN", "X-Amz-Security-Token", "csrf_token", "api-key", "db_password", "Cookie", "credentials", "code_verifier"]) expect(isSecretName(n), n).toBe(true);
    for (const n of ["token_id", "tokens", "key", "code", "kid", "name", "path", "tokenHint"]) expect(isSecretName(n), n).toBe(false);
  });

  test("strings inside arrays and errors are redacted; an error keeps only name, message and code", () => {
    const e = Object.assign(new Error("auth failed for ghp_abcdefghijklmnopqrstuvwxyz0123456789"), { code: "E1", stack: "secret stack" });
    expect(redact({ errs: [e], list: ["sk_live_abcdefghijklmnop1234"] })).toEqual({
      errs: [{ name: "Error", message: "auth failed for ghp_…[redacted]", code: "E1" }],
      list: ["sk_live_…[redacted]"],
    });
  });

  test("a string without a credential is returned as the same string, numbers and booleans as they are", () => {
    const s = "/repos/octo-org/hello-world";
    expect(redactString(s)).toBe(s);
    expect(redact({ n: 1, b: true, u: undefined })).toEqual({ n: 1, b: true, u: undefined });
  });
});
