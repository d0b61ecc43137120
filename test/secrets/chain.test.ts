/**
 * The AWS credential chain in order, credential and token caching against an injected clock, timeouts
 * (also a body that stalls after the headers), and that no failure message ever carries a secret
 * value or a credential.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecretResolver } from "../../src/secrets/resolve.ts";
import { signV4 } from "../../src/secrets/sigv4.ts";
import type { SecretsConfig } from "../../src/secrets/model.ts";
import { opts } from "../helpers/secrets.ts";

const servers: { stop(force?: boolean): void }[] = [];
afterAll(() => servers.forEach((s) => s.stop(true)));
function serve(fetch: (req: Request) => Response | Promise<Response>): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch, idleTimeout: 30 });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

/** Every value and credential a fake hands out; none may ever appear in an error message. */
const SENSITIVE = ["env-secret-key", "web-secret-key", "web-session", "ecs-secret-key", "ecs-session", "imds-secret-key", "imds-session", "imds-v2-token",
  "oidc-jwt-from-file", "container-auth-token", "plain-secret-value", "db-pass-123", "nested-secret", "garbage-secret-text", "ya29.metadata-token", "gcp-payload-secret"];
const KEYS: Record<string, string> = { AKIDENV: "env-secret-key", AKIDWEB: "web-secret-key", AKIDECS: "ecs-secret-key", AKIDIMDS: "imds-secret-key" };
const SECRETS: Record<string, string> = { plain: "plain-secret-value", db: JSON.stringify({ password: "db-pass-123", nested: { x: "nested-secret" }, on: true }) };
const used: string[] = []; // access key ids that signed Secrets Manager calls

const sm = serve(async (req) => {
  const body = await req.text();
  const auth = req.headers.get("authorization") ?? "";
  const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\/secretsmanager\/aws4_request, SignedHeaders=([^,]+), /.exec(auth);
  if (!m || !KEYS[m[1]!]) return Response.json({ __type: "UnrecognizedClientException" }, { status: 400 });
  const [, akid, region, signed] = m as unknown as [string, string, string, string];
  const headers: Record<string, string> = {};
  for (const h of signed.split(";")) if (h !== "host" && h !== "x-amz-date") headers[h] = req.headers.get(h) ?? "";
  const amz = req.headers.get("x-amz-date")!;
  const date = new Date(amz.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
  const sessionToken = req.headers.get("x-amz-security-token") ?? undefined;
  const again = signV4({ method: req.method, url: new URL(req.url), headers, body, region, service: "secretsmanager", credentials: { accessKeyId: akid, secretAccessKey: KEYS[akid]!, sessionToken }, date });
  if (again.authorization !== auth) return Response.json({ __type: "InvalidSignatureException", message: "signature mismatch" }, { status: 400 });
  const id = (JSON.parse(body) as { SecretId: string }).SecretId;
  used.push(akid);
  if (id === "garbage") return new Response("{garbage-secret-text", { headers: { "content-type": "application/json" } });
  if (id === "stall")
    return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"SecretString":"')) }), { headers: { "content-type": "application/json" } });
  return SECRETS[id] === undefined ? Response.json({ __type: "ResourceNotFoundException" }, { status: 400 }) : Response.json({ SecretString: SECRETS[id] });
});

const calls = { sts: 0, ecs: 0, imds: 0, metadata: 0 };
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();
const sts = serve(async (req) => {
  calls.sts++;
  const f = new URLSearchParams(await req.text());
  if (f.get("WebIdentityToken") !== "oidc-jwt-from-file" || f.get("RoleSessionName") !== "my-session")
    return new Response("<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key</Message></Error></ErrorResponse>", { status: 400 });
  return new Response(`<R><Credentials><AccessKeyId>AKIDWEB</AccessKeyId><SecretAccessKey>web-secret-key</SecretAccessKey><SessionToken>web-session</SessionToken><Expiration>${inAnHour()}</Expiration></Credentials></R>`);
});
const ecs = serve((req) => {
  calls.ecs++;
  const p = new URL(req.url).pathname;
  if (p === "/full" && req.headers.get("authorization") !== "container-auth-token") return new Response("", { status: 401 });
  if (p === "/broken") return new Response("ecs-secret-key is not json");
  return Response.json({ AccessKeyId: "AKIDECS", SecretAccessKey: "ecs-secret-key", Token: "ecs-session", Expiration: inAnHour() });
});
const imds = serve((req) => {
  const p = new URL(req.url).pathname;
  if (p === "/latest/api/token") return req.method === "PUT" ? new Response("imds-v2-token") : new Response("", { status: 405 });
  if (req.headers.get("x-aws-ec2-metadata-token") !== "imds-v2-token") return new Response("", { status: 401 });
  calls.imds++;
  if (p === "/latest/meta-data/iam/security-credentials/") return new Response("role-a\n");
  return Response.json({ Code: "Success", AccessKeyId: "AKIDIMDS", SecretAccessKey: "imds-secret-key", Token: "imds-session", Expiration: inAnHour() });
});
const hang = serve(() => new Promise<Response>(() => {}));
const metadata = serve(() => {
  calls.metadata++;
  return Response.json({ access_token: "ya29.metadata-token", expires_in: 3600 });
});
const gsm = serve(() => Response.json({ payload: { data: Buffer.from("gcp-payload-secret").toString("base64") } }));

const dir = mkdtempSync(join(tmpdir(), "hg-chain-"));
writeFileSync(join(dir, "oidc"), "oidc-jwt-from-file\n");
const ENV = { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" };
const WEB = { AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "oidc"), AWS_ROLE_ARN: "arn:aws:iam::1:role/r", AWS_ROLE_SESSION_NAME: "my-session" };
const ECS = { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/rel" };
const awsOpts = (over: Partial<SecretsConfig> = {}) =>
  opts({ aws_region: "eu-west-1", aws_secretsmanager_endpoint: sm, aws_sts_endpoint: sts, aws_ecs_endpoint: ecs, aws_imds_endpoint: imds, ...over });
const resolver = (env: Record<string, string>, over: Partial<SecretsConfig> = {}, now?: () => number) => createSecretResolver(awsOpts(over), { env, now });
const signer = async (env: Record<string, string>) => {
  used.length = 0;
  expect(await resolver(env).resolve("aws:secretsmanager:plain")).toBe("plain-secret-value");
  return used[0];
};

describe("AWS credential chain order", () => {
  test("env > web identity > ECS > EC2 metadata", async () => {
    expect(await signer({ ...ENV, ...WEB, ...ECS })).toBe("AKIDENV");
    expect(await signer({ ...WEB, ...ECS })).toBe("AKIDWEB");
    expect(await signer(ECS)).toBe("AKIDECS");
    expect(await signer({})).toBe("AKIDIMDS");
    expect(await signer({ AWS_ACCESS_KEY_ID: "AKIDENV" })).toBe("AKIDIMDS"); // half a key pair is no key pair
  });

  test("ECS full URI sends the authorization token (literal or from a file)", async () => {
    writeFileSync(join(dir, "ecs-auth"), "container-auth-token\n");
    expect(await signer({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${ecs}/full`, AWS_CONTAINER_AUTHORIZATION_TOKEN: "container-auth-token" })).toBe("AKIDECS");
    expect(await signer({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${ecs}/full`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, "ecs-auth") })).toBe("AKIDECS");
    await expect(resolver({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${ecs}/full` }).resolve("aws:secretsmanager:plain")).rejects.toThrow(/ECS credentials endpoint answered HTTP 401/);
  });

  test("a configured source that fails is reported, not skipped", async () => {
    writeFileSync(join(dir, "bad-oidc"), "wrong-token");
    const e = resolver({ ...WEB, AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "bad-oidc") }).resolve("aws:secretsmanager:plain");
    await expect(e).rejects.toThrow("aws:secretsmanager:plain: STS AssumeRoleWithWebIdentity for arn:aws:iam::1:role/r refused: InvalidIdentityToken: Couldn't retrieve verification key");
    await expect(resolver({ ...WEB, AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "none") }).resolve("aws:secretsmanager:plain")).rejects.toThrow(/token file .* is unreadable/);
  });
});

describe("caching", () => {
  test("temporary credentials are reused until 5 minutes before they expire", async () => {
    let clock = Date.now();
    const now = () => clock;
    for (const [env, key] of [[ECS, "ecs"], [WEB, "sts"], [{}, "imds"]] as const) {
      const r = resolver(env, {}, now);
      const before = calls[key];
      clock = Date.now();
      await r.resolve("aws:secretsmanager:plain");
      await r.resolve("aws:secretsmanager:db:password");
      const once = calls[key] - before;
      expect(once, key).toBeGreaterThan(0);
      clock += 54 * 60_000; // 6 minutes left
      await r.resolve("aws:secretsmanager:plain");
      expect(calls[key] - before, key).toBe(once);
      clock += 2 * 60_000; // 4 minutes left
      await r.resolve("aws:secretsmanager:plain");
      expect(calls[key] - before, key).toBe(2 * once);
    }
  });

  test("concurrent look-ups share one credential fetch", async () => {
    const before = calls.ecs;
    const r = resolver(ECS);
    await Promise.all(Array.from({ length: 5 }, () => r.resolve("aws:secretsmanager:plain")));
    expect(calls.ecs - before).toBe(1);
  });

  test("GCP tokens are reused until a minute before they expire", async () => {
    let clock = Date.now();
    const r = createSecretResolver(opts({ gcp_secretmanager_endpoint: gsm, gcp_metadata_url: metadata }), { env: {}, now: () => clock });
    const ref = "gcp:secretmanager:projects/p/secrets/s/versions/1";
    const before = calls.metadata;
    expect(await r.resolve(ref)).toBe("gcp-payload-secret");
    clock += 58 * 60_000;
    await r.resolve(ref);
    expect(calls.metadata - before).toBe(1);
    clock += 90_000;
    await r.resolve(ref);
    expect(calls.metadata - before).toBe(2);
  });
});

describe("timeouts", () => {
  const within = async (p: Promise<unknown>, pattern: RegExp) => {
    const t0 = performance.now();
    await expect(p).rejects.toThrow(pattern);
    expect(performance.now() - t0).toBeLessThan(1500);
  };
  test("every kind of call gives up after the configured timeout", async () => {
    const t = { timeout: "300ms" };
    await within(resolver(ENV, t).resolve("aws:secretsmanager:stall"), /Secrets Manager timed out after 300 ms/); // the guarded client bounds the body read too
    await within(resolver({}, { ...t, aws_imds_endpoint: hang }).resolve("aws:secretsmanager:plain"), /EC2 metadata timed out after 300 ms/);
    await within(resolver(ECS, { ...t, aws_ecs_endpoint: hang }).resolve("aws:secretsmanager:plain"), /ECS credentials endpoint timed out/);
    await within(resolver(WEB, { ...t, aws_sts_endpoint: hang }).resolve("aws:secretsmanager:plain"), /STS timed out/);
    const g = createSecretResolver(opts({ ...t, gcp_metadata_url: hang }), { env: {} });
    await within(g.resolve("gcp:secretmanager:projects/p/secrets/s/versions/1"), /gcp:secretmanager:projects\/p\/secrets\/s\/versions\/1: GCP metadata server timed out/);
  });
});

describe("no failure message carries a value or a credential", () => {
  test("every failure is secret_unresolved, names the reference, and holds nothing sensitive", async () => {
    mkdirSync(join(dir, "k8s", "ns", "s"), { recursive: true });
    writeFileSync(join(dir, "outside"), "plain-secret-value");
    const env = { ...ENV, SECRET_VAR: "plain-secret-value" };
    const cases: [Record<string, string>, string, RegExp][] = [
      [env, "aws:secretsmanager:db:missing", /no key "missing"/],
      [env, "aws:secretsmanager:db:nested", /"nested" is not a string/],
      [env, "aws:secretsmanager:plain:password", /not a JSON object/],
      [env, "aws:secretsmanager:garbage", /not JSON/],
      [env, "aws:secretsmanager:nope", /ResourceNotFoundException/],
      [{ ...ENV, AWS_SECRET_ACCESS_KEY: "env-secret-key-wrong" }, "aws:secretsmanager:plain", /InvalidSignatureException/],
      [{ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/broken" }, "aws:secretsmanager:plain", /ECS credentials endpoint returned no credentials/],
      [{ ...WEB, AWS_ROLE_SESSION_NAME: "other" }, "aws:secretsmanager:plain", /InvalidIdentityToken/],
      [env, "k8s:ns/s:..", /no \.\./],
      [env, "k8s:ns/../outside:x", /expected k8s:namespace\/secret:key/],
      [env, "k8s:../s:x", /no \.\./],
      [env, "env:SECRET_VAR_X", /not set/],
      [env, "file:", /expected file:\/path/],
      [env, "gcp:secretmanager:projects/p/secrets/s", /expected gcp:secretmanager/],
      [env, "aws:secretsmanager:arn:aws:secretsmanager:eu-west-1:1:secret", /malformed Secrets Manager ARN/],
    ];
    for (const [e, ref, why] of cases) {
      const r = createSecretResolver(awsOpts({ k8s_root: join(dir, "k8s") }), { env: e });
      expect(r.isLiteral(ref)).toBe(false);
      const err = (await r.resolve(ref).then(() => null, (x: unknown) => x)) as { code?: string; message: string } | null;
      expect(err, ref).not.toBeNull();
      expect(err!.code).toBe("secret_unresolved");
      expect(err!.message).toMatch(why);
      expect(err!.message.startsWith(`${ref}: `), err!.message).toBe(true);
      for (const s of SENSITIVE) expect(err!.message, ref).not.toContain(s);
    }
  });
});
