/**
 * AWS Secrets Manager GetSecretValue, SigV4-signed, with the standard credential chain: environment
 * variables, web identity (STS AssumeRoleWithWebIdentity), ECS container credentials, EC2 instance
 * metadata (IMDSv2). Credentials are cached until 5 minutes before they expire.
 */
import { readFileSync } from "node:fs";
import { signV4, type AwsCredentials } from "./sigv4.ts";
import { bodyText, call, parseJson, ResolveError, str, type CloudDeps } from "./http.ts";

export type AwsDeps = CloudDeps;

const REFRESH_MARGIN_MS = 5 * 60_000;

export class AwsClient {
  private creds: AwsCredentials | null = null;
  private pending: Promise<AwsCredentials> | null = null;
  constructor(private readonly d: AwsDeps) {}

  region(arnRegion: string | null): string | null {
    return this.d.opts.aws_region || this.d.env.AWS_REGION || this.d.env.AWS_DEFAULT_REGION || arnRegion;
  }

  /** SecretString of a secret (the caller extracts a JSON key). Throws ResolveError with a safe message. */
  async getSecretValue(secretId: string, region: string): Promise<string> {
    const creds = await this.credentials(region);
    const endpoint = new URL(this.d.opts.aws_secretsmanager_endpoint ?? `https://secretsmanager.${region}.amazonaws.com`);
    const body = JSON.stringify({ SecretId: secretId });
    const headers = signV4({
      method: "POST",
      url: endpoint,
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.GetSecretValue" },
      body,
      region,
      service: "secretsmanager",
      credentials: creds,
      date: new Date(this.d.now()),
    });
    const res = await call(this.d.fetch, endpoint, { method: "POST", headers, body }, this.d.timeoutMs, "Secrets Manager");
    const text = await bodyText(res, "Secrets Manager");
    const out = parseJson(text);
    if (!res.ok) {
      // AWS error bodies carry a type and a message, never the secret
      const type = str(out, "__type")?.split("#").pop();
      const why = [type, str(out, "message") ?? str(out, "Message")].filter(Boolean).join(": ");
      throw new ResolveError(`Secrets Manager refused (HTTP ${res.status}${why ? `): ${why}` : ")"}`);
    }
    const secretString = str(out, "SecretString");
    if (secretString !== undefined) return secretString;
    const binary = str(out, "SecretBinary");
    if (binary !== undefined) return Buffer.from(binary, "base64").toString("utf8");
    throw new ResolveError(out === undefined ? "Secrets Manager answered with a body that is not JSON" : "the secret has no value");
  }

  async credentials(region: string): Promise<AwsCredentials> {
    const c = this.creds;
    if (c && (c.expiresAt === undefined || c.expiresAt - this.d.now() > REFRESH_MARGIN_MS)) return c;
    this.pending ??= this.chain(region)
      .then((fresh) => (this.creds = fresh))
      .finally(() => (this.pending = null));
    return this.pending;
  }

  private async chain(region: string): Promise<AwsCredentials> {
    const env = this.d.env;
    const from = (source: string, c: AwsCredentials) => {
      this.d.log?.debug("aws credentials obtained", { source, expires: c.expiresAt ? new Date(c.expiresAt).toISOString() : "never" });
      return c;
    };
    if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
      return from("env", { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined });
    if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return from("web-identity", await this.webIdentity(region, env.AWS_WEB_IDENTITY_TOKEN_FILE, env.AWS_ROLE_ARN));
    if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return from("ecs", await this.container());
    try {
      return from("imds", await this.imds());
    } catch (e) {
      const why = e instanceof ResolveError ? e.message : "failed";
      throw new ResolveError(`no AWS credentials found (tried env, web identity, ECS, EC2 metadata: ${why})`);
    }
  }

  private async webIdentity(region: string, tokenFile: string, roleArn: string): Promise<AwsCredentials> {
    let token: string;
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch {
      throw new ResolveError(`web identity token file ${tokenFile} is unreadable`);
    }
    const url = new URL(this.d.opts.aws_sts_endpoint ?? `https://sts.${region}.amazonaws.com`);
    const form = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: roleArn,
      RoleSessionName: this.d.env.AWS_ROLE_SESSION_NAME || `hubgate-${process.pid}`,
      WebIdentityToken: token,
    });
    const init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() };
    const res = await call(this.d.fetch, url, init, this.d.timeoutMs, "STS");
    const xml = await bodyText(res, "STS");
    const tag = (t: string) => new RegExp(`<${t}>([^<]+)</${t}>`).exec(xml)?.[1]?.trim();
    if (!res.ok) {
      const why = [tag("Code"), tag("Message")].filter(Boolean).join(": ") || `HTTP ${res.status}`;
      throw new ResolveError(`STS AssumeRoleWithWebIdentity for ${roleArn} refused: ${why}`);
    }
    const accessKeyId = tag("AccessKeyId");
    const secretAccessKey = tag("SecretAccessKey");
    if (!accessKeyId || !secretAccessKey) throw new ResolveError("STS returned no credentials");
    return { accessKeyId, secretAccessKey, sessionToken: tag("SessionToken"), expiresAt: expiry(tag("Expiration")) };
  }

  private async container(): Promise<AwsCredentials> {
    const env = this.d.env;
    const url = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
      ? this.d.opts.aws_ecs_endpoint.replace(/\/+$/, "") + env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
      : env.AWS_CONTAINER_CREDENTIALS_FULL_URI!;
    const headers: Record<string, string> = {};
    let auth = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
    if (!auth && env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) {
      try {
        auth = readFileSync(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, "utf8").trim();
      } catch {
        throw new ResolveError(`container authorization token file ${env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE} is unreadable`);
      }
    }
    if (auth) headers.authorization = auth;
    const res = await call(this.d.fetch, url, { headers }, this.d.timeoutMs, "ECS credentials endpoint");
    const text = await bodyText(res, "ECS credentials endpoint");
    if (!res.ok) throw new ResolveError(`ECS credentials endpoint answered HTTP ${res.status}`);
    return fromJson(text, "ECS credentials endpoint");
  }

  private async imds(): Promise<AwsCredentials> {
    const base = this.d.opts.aws_imds_endpoint.replace(/\/+$/, "");
    const get = async (path: string, init: RequestInit) => {
      const res = await call(this.d.fetch, `${base}${path}`, init, this.d.timeoutMs, "EC2 metadata");
      const text = await bodyText(res, "EC2 metadata");
      if (!res.ok) throw new ResolveError(`EC2 metadata ${path} answered HTTP ${res.status}`);
      return text;
    };
    const token = await get("/latest/api/token", { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" } });
    const headers = { "x-aws-ec2-metadata-token": token.trim() };
    const role = (await get("/latest/meta-data/iam/security-credentials/", { headers })).split("\n")[0]!.trim();
    if (!role) throw new ResolveError("EC2 metadata lists no instance role");
    return fromJson(await get(`/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, { headers }), "EC2 metadata");
  }
}

function expiry(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 0; // unparseable: use once, fetch again next time
}

function fromJson(text: string, what: string): AwsCredentials {
  const o = parseJson(text);
  const accessKeyId = str(o, "AccessKeyId");
  const secretAccessKey = str(o, "SecretAccessKey");
  if (!accessKeyId || !secretAccessKey) throw new ResolveError(`${what} returned no credentials`);
  return { accessKeyId, secretAccessKey, sessionToken: str(o, "Token") || undefined, expiresAt: expiry(str(o, "Expiration")) };
}
