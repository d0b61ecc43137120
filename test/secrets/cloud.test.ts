/**
 * aws: and gcp: references against loopback fakes of Secrets Manager, STS, the ECS and EC2 credential
 * endpoints, Google's token endpoint, Secret Manager and the metadata server. The Secrets Manager fake
 * recomputes the SigV4 signature and refuses a wrong one, as AWS does.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from "jose";
import { createSecretResolver } from "../../src/secrets/resolve.ts";
import { signV4 } from "../../src/secrets/sigv4.ts";
import { opts } from "../helpers/secrets.ts";

const servers: { stop(force?: boolean): void }[] = [];
afterAll(() => servers.forEach((s) => s.stop(true)));
function serve(fetch: (req: Request) => Response | Promise<Response>): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

const KEYS: Record<string, string> = { AKIDENV: "env-secret-key", AKIDWEB: "web-secret-key", AKIDECS: "ecs-secret-key", AKIDIMDS: "imds-secret-key" };
const SECRETS: Record<string, string> = { "prod/db": JSON.stringify({ password: "db-pass-123", port: 5432 }), plain: "plain-secret-value" };
const smCalls: string[] = [];

/** Secrets Manager: verifies the signature by signing the same request again with the key the access key names. */
const sm = serve(async (req) => {
  const body = await req.text();
  const auth = req.headers.get("authorization") ?? "";
  const m = /Credential=([^/]+)\/(\d{8})\/([^/]+)\/secretsmanager\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(auth);
  if (!m || !KEYS[m[1]!]) return Response.json({ __type: "UnrecognizedClientException", message: "The security token included in the request is invalid." }, { status: 400 });
  const [, akid, , region, signed] = m;
  const headers: Record<string, string> = {};
  for (const h of signed!.split(";")) if (h !== "host" && h !== "x-amz-date") headers[h] = req.headers.get(h) ?? "";
  const amz = req.headers.get("x-amz-date")!;
  const date = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
  const expect = signV4({ method: req.method, url: new URL(req.url), headers, body, region: region!, service: "secretsmanager", credentials: { accessKeyId: akid!, secretAccessKey: KEYS[akid!]!, sessionToken: req.headers.get("x-amz-security-token") ?? undefined }, date });
  if (expect.authorization !== auth) return Response.json({ __type: "InvalidSignatureException", message: "The request signature we calculated does not match" }, { status: 400 });
  if (req.headers.get("x-amz-target") !== "secretsmanager.GetSecretValue") return Response.json({ __type: "UnknownOperationException" }, { status: 400 });
  const id = (JSON.parse(body) as { SecretId: string }).SecretId;
  smCalls.push(`${akid}:${id}`);
  if (id === "forbidden") return Response.json({ __type: "com.amazonaws.secretsmanager#AccessDeniedException", message: "not authorized to perform secretsmanager:GetSecretValue" }, { status: 400 });
  const value = SECRETS[id];
  if (value === undefined) return Response.json({ __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." }, { status: 400 });
  return Response.json({ Name: id, SecretString: value });
});

let stsCalls = 0;
const sts = serve(async (req) => {
  stsCalls++;
  const f = new URLSearchParams(await req.text());
  if (f.get("Action") !== "AssumeRoleWithWebIdentity" || f.get("WebIdentityToken") !== "oidc-jwt-from-file") return new Response("<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>", { status: 400 });
  const exp = new Date(Date.now() + 3600_000).toISOString();
  return new Response(`<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIDWEB</AccessKeyId><SecretAccessKey>web-secret-key</SecretAccessKey><SessionToken>web-session</SessionToken><Expiration>${exp}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`, { headers: { "content-type": "text/xml" } });
});

let ecsCalls = 0;
const ecs = serve((req) => {
  ecsCalls++;
  if (new URL(req.url).pathname !== "/v2/credentials/abc") return new Response("no", { status: 404 });
  return Response.json({ AccessKeyId: "AKIDECS", SecretAccessKey: "ecs-secret-key", Token: "ecs-session", Expiration: new Date(Date.now() + 3600_000).toISOString() });
});

let imdsTokens = 0;
const imds = serve((req) => {
  const p = new URL(req.url).pathname;
  if (p === "/latest/api/token" && req.method === "PUT" && req.headers.get("x-aws-ec2-metadata-token-ttl-seconds")) {
    imdsTokens++;
    return new Response("imds-session-token");
  }
  if (req.headers.get("x-aws-ec2-metadata-token") !== "imds-session-token") return new Response("", { status: 401 }); // IMDSv2 only
  if (p === "/latest/meta-data/iam/security-credentials/") return new Response("hubgate-role\n");
  if (p === "/latest/meta-data/iam/security-credentials/hubgate-role")
    return Response.json({ AccessKeyId: "AKIDIMDS", SecretAccessKey: "imds-secret-key", Token: "imds-session", Expiration: new Date(Date.now() + 3600_000).toISOString() });
  return new Response("", { status: 404 });
});

const hang = serve(async () => {
  await Bun.sleep(5000);
  return new Response("late");
});

const aws = (env: Record<string, string>, over = {}) =>
  createSecretResolver(opts({ aws_region: "eu-west-1", aws_secretsmanager_endpoint: sm, aws_sts_endpoint: sts, aws_ecs_endpoint: ecs, aws_imds_endpoint: imds, ...over }), { env });

describe("aws:secretsmanager", () => {
  test("env credentials; JSON keys; numbers stringified", async () => {
    const r = aws({ AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" });
    expect(await r.resolve("aws:secretsmanager:plain")).toBe("plain-secret-value");
    expect(await r.resolve("aws:secretsmanager:prod/db:password")).toBe("db-pass-123");
    expect(await r.resolve("aws:secretsmanager:prod/db:port")).toBe("5432");
    await expect(r.resolve("aws:secretsmanager:prod/db:user")).rejects.toThrow('the secret has no key "user"');
    await expect(r.resolve("aws:secretsmanager:plain:k")).rejects.toThrow(/not a JSON object/);
  });

  test("AWS errors are surfaced by type, never with a value", async () => {
    const r = aws({ AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" });
    await expect(r.resolve("aws:secretsmanager:forbidden")).rejects.toThrow(/AccessDeniedException/);
    await expect(r.resolve("aws:secretsmanager:missing")).rejects.toThrow(/ResourceNotFoundException/);
    const wrong = aws({ AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "not-the-key" });
    const e = (await wrong.resolve("aws:secretsmanager:plain").catch((x: Error) => x)) as Error;
    expect(e.message).toContain("InvalidSignatureException");
    expect(e.message).not.toContain("not-the-key");
  });

  test("web identity (STS) when no static keys; env keys win over it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hg-aws-"));
    writeFileSync(join(dir, "token"), "oidc-jwt-from-file\n");
    const web = { AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, "token"), AWS_ROLE_ARN: "arn:aws:iam::1:role/hubgate" };
    smCalls.length = 0;
    const r = aws(web);
    expect(await r.resolve("aws:secretsmanager:plain")).toBe("plain-secret-value");
    expect(await r.resolve("aws:secretsmanager:prod/db:password")).toBe("db-pass-123");
    expect(stsCalls).toBe(1); // cached until near expiry
    expect(smCalls).toEqual(["AKIDWEB:plain", "AKIDWEB:prod/db"]);
    await aws({ ...web, AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" }).resolve("aws:secretsmanager:plain");
    expect(smCalls.at(-1)).toBe("AKIDENV:plain");
    expect(stsCalls).toBe(1);
  });

  test("ECS container credentials", async () => {
    smCalls.length = 0;
    expect(await aws({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" }).resolve("aws:secretsmanager:plain")).toBe("plain-secret-value");
    expect(smCalls).toEqual(["AKIDECS:plain"]);
    expect(ecsCalls).toBe(1);
  });

  test("EC2 instance metadata, IMDSv2 session token required", async () => {
    smCalls.length = 0;
    expect(await aws({}).resolve("aws:secretsmanager:plain")).toBe("plain-secret-value");
    expect(smCalls).toEqual(["AKIDIMDS:plain"]);
    expect(imdsTokens).toBe(1);
  });

  test("no region → a clear error; region from an ARN works", async () => {
    const r = createSecretResolver(opts({ aws_secretsmanager_endpoint: sm }), { env: { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" } });
    await expect(r.resolve("aws:secretsmanager:plain")).rejects.toThrow(/no AWS region/);
    await expect(r.resolve("aws:secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCd")).rejects.toThrow(/ResourceNotFoundException/);
  });

  test("no credentials anywhere → names what was tried; a hanging endpoint times out", async () => {
    const none = createSecretResolver(opts({ aws_region: "eu-west-1", aws_secretsmanager_endpoint: sm, aws_imds_endpoint: "http://127.0.0.1:9" }), { env: {} });
    await expect(none.resolve("aws:secretsmanager:plain")).rejects.toThrow(/no AWS credentials found/);
    const slow = createSecretResolver(opts({ aws_region: "eu-west-1", aws_secretsmanager_endpoint: hang, timeout: "300ms" }), { env: { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret-key" } });
    const t0 = performance.now();
    await expect(slow.resolve("aws:secretsmanager:plain")).rejects.toThrow(/timed out after 300 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("gcp:secretmanager", () => {
  const payload = (s: string) => Response.json({ name: "x", payload: { data: Buffer.from(s).toString("base64") } });
  const tokenCalls = { sa: 0, metadata: 0 };
  let publicKey: CryptoKey | undefined;
  const tokenEndpoint = serve(async (req) => {
    tokenCalls.sa++;
    const f = new URLSearchParams(await req.text());
    try {
      const { payload: p } = await jwtVerify(f.get("assertion") ?? "", publicKey!, { audience: `${tokenEndpoint}/token`, issuer: "hubgate@proj.iam.gserviceaccount.com" });
      if (f.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer" || !String(p.scope).includes("cloud-platform")) throw new Error("bad grant");
    } catch {
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    return Response.json({ access_token: "ya29.sa-token", expires_in: 3599, token_type: "Bearer" });
  });
  const metadata = serve((req) => {
    if (req.headers.get("metadata-flavor") !== "Google") return new Response("", { status: 403 });
    tokenCalls.metadata++;
    return Response.json({ access_token: "ya29.metadata-token", expires_in: 3599, token_type: "Bearer" });
  });
  const secretManager = serve((req) => {
    const p = new URL(req.url).pathname;
    const tok = req.headers.get("authorization");
    if (tok !== "Bearer ya29.sa-token" && tok !== "Bearer ya29.metadata-token") return Response.json({ error: { status: "UNAUTHENTICATED", message: "bad token" } }, { status: 401 });
    if (p === "/v1/projects/proj/secrets/api-key/versions/latest:access") return payload(`gcp-secret-via-${tok!.slice(12)}`);
    return Response.json({ error: { status: "NOT_FOUND", message: "Secret [projects/proj/secrets/none] not found or has no versions." } }, { status: 404 });
  });

  test("service-account key: RS256 JWT-bearer grant verified by the token endpoint; token cached", async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    publicKey = await importSPKI(await exportSPKI(pair.publicKey), "RS256");
    const dir = mkdtempSync(join(tmpdir(), "hg-gcp-"));
    const file = join(dir, "sa.json");
    writeFileSync(file, JSON.stringify({ type: "service_account", client_email: "hubgate@proj.iam.gserviceaccount.com", private_key: await exportPKCS8(pair.privateKey), private_key_id: "k1", token_uri: `${tokenEndpoint}/token` }));
    const r = createSecretResolver(opts({ gcp_secretmanager_endpoint: secretManager, gcp_metadata_url: metadata }), { env: { GOOGLE_APPLICATION_CREDENTIALS: file } });
    expect(await r.resolve("gcp:secretmanager:projects/proj/secrets/api-key/versions/latest")).toBe("gcp-secret-via-sa-token");
    expect(await r.resolve("gcp:secretmanager:projects/proj/secrets/api-key/versions/latest")).toBe("gcp-secret-via-sa-token");
    expect(tokenCalls.sa).toBe(1);
    await expect(r.resolve("gcp:secretmanager:projects/proj/secrets/none/versions/1")).rejects.toThrow(/NOT_FOUND/);
  });

  test("metadata server when no key file", async () => {
    const r = createSecretResolver(opts({ gcp_secretmanager_endpoint: secretManager, gcp_metadata_url: metadata }), { env: {} });
    expect(await r.resolve("gcp:secretmanager:projects/proj/secrets/api-key/versions/latest")).toBe("gcp-secret-via-metadata-token");
    expect(tokenCalls.metadata).toBe(1);
  });

  test("a wrong key is refused by the token endpoint, named in the error", async () => {
    const other = await generateKeyPair("RS256", { extractable: true });
    const dir = mkdtempSync(join(tmpdir(), "hg-gcp-"));
    const file = join(dir, "sa.json");
    writeFileSync(file, JSON.stringify({ client_email: "hubgate@proj.iam.gserviceaccount.com", private_key: await exportPKCS8(other.privateKey), token_uri: `${tokenEndpoint}/token` }));
    const r = createSecretResolver(opts({ gcp_secretmanager_endpoint: secretManager, gcp_credentials_file: file }), { env: {} });
    await expect(r.resolve("gcp:secretmanager:projects/proj/secrets/api-key/versions/latest")).rejects.toThrow(/gcp:secretmanager:projects\/proj.*invalid_grant/);
  });
});

describe("startup and check name every unresolvable reference, never a value", () => {
  test("hubgate check lists each failing key with its reference", async () => {
    const { runCli, writeConfig } = await import("../helpers/gateway.ts");
    const { path } = writeConfig(`[admin]\ntoken = "env:NOT_SET"\n[[github.identities]]\nid = "a"\ntoken = "file:/nonexistent/token"\n`);
    const r = await runCli(["check", "--config", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("admin.token: env:NOT_SET: the environment variable is not set");
    expect(r.stderr).toContain("github.identities[0].token: file:/nonexistent/token: no such file");
  });
});
