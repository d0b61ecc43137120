/** Credential samples of every format the redaction rule covers, for its unit table and the end-to-end sink tests. */
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import { randomToken } from "../../src/crypto/hash.ts";

/** A small deterministic generator, so a failing case can be reproduced from its seed. */
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL = `${ALNUM}-_`;
const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const pick = (r: (n: number) => number, alphabet: string, len: number) => Array.from({ length: len }, () => alphabet[r(alphabet.length)]).join("");

/** Each format: the prefix that must remain, and a generator of real-looking values (bodies at the shortest length that counts, and typical). */
export const FORMATS: { name: string; prefix: string; make: (r: (n: number) => number) => string }[] = [
  { name: "GitHub classic PAT", prefix: "ghp_", make: (r) => `ghp_${pick(r, ALNUM, 36)}` },
  { name: "GitHub OAuth token", prefix: "gho_", make: (r) => `gho_${pick(r, ALNUM, 36)}` },
  { name: "GitHub user-to-server token", prefix: "ghu_", make: (r) => `ghu_${pick(r, ALNUM, 36)}` },
  { name: "GitHub server-to-server token", prefix: "ghs_", make: (r) => `ghs_${pick(r, ALNUM, 36)}` },
  { name: "GitHub refresh token", prefix: "ghr_", make: (r) => `ghr_${pick(r, ALNUM, 76)}` },
  { name: "GitHub token, shortest body", prefix: "ghp_", make: (r) => `ghp_${pick(r, ALNUM, 16)}` },
  { name: "GitHub fine-grained PAT", prefix: "github_pat_", make: (r) => `github_pat_11${pick(r, UPPER_DIGITS, 20)}_${pick(r, ALNUM, 59)}` },
  { name: "Slack bot token", prefix: "xoxb-", make: (r) => `xoxb-${pick(r, "0123456789", 12)}-${pick(r, "0123456789", 13)}-${pick(r, ALNUM, 24)}` },
  { name: "Slack user token", prefix: "xoxp-", make: (r) => `xoxp-${pick(r, "0123456789", 12)}-${pick(r, ALNUM, 32)}` },
  { name: "Slack workspace token", prefix: "xoxa-", make: (r) => `xoxa-2-${pick(r, ALNUM, 40)}` },
  { name: "Slack refresh token", prefix: "xoxr-", make: (r) => `xoxr-${pick(r, ALNUM, 40)}` },
  { name: "Slack token, shortest body", prefix: "xoxb-", make: (r) => `xoxb-${pick(r, "0123456789", 10)}` },
  { name: "Slack app-level token", prefix: "xapp-", make: (r) => `xapp-1-A${pick(r, UPPER_DIGITS, 10)}-${pick(r, "0123456789", 13)}-${pick(r, "0123456789abcdef", 64)}` },
  { name: "Stripe live secret key", prefix: "sk_live_", make: (r) => `sk_live_${pick(r, ALNUM, 99)}` },
  { name: "Stripe test secret key", prefix: "sk_test_", make: (r) => `sk_test_${pick(r, ALNUM, 24)}` },
  { name: "Stripe restricted key", prefix: "rk_live_", make: (r) => `rk_live_${pick(r, ALNUM, 24)}` },
  { name: "Stripe publishable key", prefix: "pk_live_", make: (r) => `pk_live_${pick(r, ALNUM, 24)}` },
  { name: "Stripe webhook secret", prefix: "whsec_", make: (r) => `whsec_${pick(r, ALNUM, 32)}` },
  { name: "OpenAI legacy key", prefix: "sk-", make: (r) => `sk-${pick(r, ALNUM, 20)}T3BlbkFJ${pick(r, ALNUM, 20)}` },
  { name: "OpenAI project key", prefix: "sk-proj-", make: (r) => `sk-proj-${pick(r, B64URL, 120)}9` },
  { name: "Anthropic-style key", prefix: "sk-ant-", make: (r) => `sk-ant-api03-${pick(r, B64URL, 80)}7AA` },
  { name: "AWS access key id", prefix: "AKIA", make: (r) => `AKIA${pick(r, UPPER_DIGITS, 16)}` },
  { name: "AWS temporary access key id", prefix: "ASIA", make: (r) => `ASIA${pick(r, UPPER_DIGITS, 16)}` },
  { name: "Google API key", prefix: "AIza", make: (r) => `AIza${pick(r, B64URL, 35)}` },
  {
    name: "JWT",
    prefix: "eyJ",
    make: (r) => `${Buffer.from(JSON.stringify({ alg: "RS256", kid: pick(r, ALNUM, 8) })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: pick(r, ALNUM, 12), exp: 2e9 })).toString("base64url")}.${pick(r, B64URL, 86)}`,
  },
  { name: "unsigned JWT", prefix: "eyJ", make: (r) => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: pick(r, ALNUM, 6) })).toString("base64url")}.` },
  { name: "hubgate API token (live)", prefix: "hg_live_", make: () => mintApiToken("live") },
  { name: "hubgate API token (test)", prefix: "hg_test_", make: () => mintApiToken("test") },
  { name: "hubgate MCP access token", prefix: "hgm_at_", make: () => `hgm_at_${randomToken()}` },
  { name: "hubgate MCP refresh token", prefix: "hgm_rt_", make: () => `hgm_rt_${randomToken()}` },
  { name: "hubgate MCP client secret", prefix: "mcps_", make: () => `mcps_${randomToken()}` },
];

/** One sample of every format (seeded), e.g. to put into requests. */
export function samples(seed = 1): { name: string; prefix: string; value: string }[] {
  return FORMATS.map((f, i) => ({ name: f.name, prefix: f.prefix, value: f.make(rng(seed * 104729 + i)) }));
}
