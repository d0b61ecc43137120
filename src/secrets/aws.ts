/**
 * AWS Secrets Manager GetSecretValue, SigV4-signed, with the standard credential chain: environment
 * variables, web identity (STS AssumeRoleWithWebIdentity), ECS container credentials, EC2 instance
 * metadata (IMDSv2). Credentials are cached until 5 minutes before they expire.
 */
import { readFileSync } from "node:fs";
import { signV4, type AwsCredentials } from "./sigv4.ts";
import { call, type CloudDeps } from "./http.ts";

export type AwsDeps = CloudDeps;

const REFRESH_MARGIN_MS = 5 * 60_000;

export class AwsClient {
  private creds: AwsCredentials | null = null;
  private pending: Promise<AwsCredentials> | null = null;
  constructor(private readonly d: AwsDeps) {}

  region(arnRegion: string | null): string | null {
    return this.d.opts.aws_region ?? this.d.env.AWS_REGION ?? this.d.env.AWS_DEFAULT_REGION ?? arnRegion;
  }

  /** SecretString of a secret (the caller extracts a JSON key). Throws Error with a safe message. */
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
    });
    const res = await call(this.d.fetch, endpoint, { method: "POST", headers, body }, this.d.timeoutMs, "Secrets Manager");
    const text = await res.text();
    if (!res.ok) {
      // AWS error bodies carry a type and message, never the secret
      let type = `HTTP ${res.status}`;
      try {
        const e = JSON.parse(text) as { __type?: string; message?: string; Message?: string };
        type = [e.__type?.split("#").pop(), e.message ?? e.Message].filter(Boolean).join(": ") || type;
      } catch {
        /* not JSON */
      }
      throw new Error(`Secrets Manager refused: ${type}`);
    }
    const out = JSON.parse(text) as { SecretString?: string; SecretBinary?: string };
    if (typeof out.SecretString === "string") return out.SecretString;
    if (typeof out.SecretBinary === "string") return Buffer.from(out.SecretBinary, "base64").toString("utf8");
    throw new Error("the secret has no value");
  }

  async credentials(region: string): Promise<AwsCredentials> {
    if (this.creds && (this.creds.expiresAt === undefined || this.creds.expiresAt - this.d.now() > REFRESH_MARGIN_MS)) return this.creds;
    this.pending ??= this.chain(region)
      .then((c) => (this.creds = c))
      .finally(() => (this.pending = null));
    return this.pending;
  }

  private async chain(region: string): Promise<AwsCredentials> {
    const env = this.d.env;
    if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
      return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined };
    if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return this.webIdentity(region, env.AWS_WEB_IDENTITY_TOKEN_FILE, env.AWS_ROLE_ARN);
    if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return this.container();
    try {
      return await this.imds();
    } catch (e) {
      throw new Error(`no AWS credentials found (env, web identity, ECS, EC2 metadata: ${e instanceof Error ? e.message : "failed"})`);
    }
  }

  private async webIdentity(region: string, tokenFile: string, roleArn: string): Promise<AwsCredentials> {
    let token: string;
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch {
      throw new Error(`web identity token file ${tokenFile} is unreadable`);
    }
    const url = new URL(this.d.opts.aws_sts_endpoint ?? `https://sts.${region}.amazonaws.com`);
    const form = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: roleArn,
      RoleSessionName: this.d.env.AWS_ROLE_SESSION_NAME ?? `hubgate-${process.pid}`,
      WebIdentityToken: token,
    });
    const res = await call(this.d.fetch, url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form }, this.d.timeoutMs, "STS");
    const xml = await res.text();
    if (!res.ok) throw new Error(`STS AssumeRoleWithWebIdentity refused: ${/<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? `HTTP ${res.status}`}`);
    const tag = (t: string) => new RegExp(`<${t}>([^<]+)</${t}>`).exec(xml)?.[1];
    const accessKeyId = tag("AccessKeyId");
    const secretAccessKey = tag("SecretAccessKey");
    if (!accessKeyId || !secretAccessKey) throw new Error("STS returned no credentials");
    const exp = tag("Expiration");
    return { accessKeyId, secretAccessKey, sessionToken: tag("SessionToken"), expiresAt: exp ? Date.parse(exp) : undefined };
  }

  private async container(): Promise<AwsCredentials> {
    const env = this.d.env;
    const url = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
      ? this.d.opts.aws_ecs_endpoint.replace(/\/+$/, "") + env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
      : env.AWS_CONTAINER_CREDENTIALS_FULL_URI!;
    const headers: Record<string, string> = {};
    if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN) headers.authorization = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
    const res = await call(this.d.fetch, url, { headers }, this.d.timeoutMs, "ECS credentials endpoint");
    if (!res.ok) throw new Error(`ECS credentials endpoint answered ${res.status}`);
    return fromJson(await res.json());
  }

  private async imds(): Promise<AwsCredentials> {
    const base = this.d.opts.aws_imds_endpoint.replace(/\/+$/, "");
    const t = await call(this.d.fetch, `${base}/latest/api/token`, { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" } }, this.d.timeoutMs, "EC2 metadata");
    if (!t.ok) throw new Error(`EC2 metadata token answered ${t.status}`);
    const headers = { "x-aws-ec2-metadata-token": await t.text() };
    const r = await call(this.d.fetch, `${base}/latest/meta-data/iam/security-credentials/`, { headers }, this.d.timeoutMs, "EC2 metadata");
    if (!r.ok) throw new Error(`EC2 metadata has no instance role (${r.status})`);
    const role = (await r.text()).split("\n")[0]!.trim();
    const c = await call(this.d.fetch, `${base}/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, { headers }, this.d.timeoutMs, "EC2 metadata");
    if (!c.ok) throw new Error(`EC2 metadata credentials answered ${c.status}`);
    return fromJson(await c.json());
  }
}

function fromJson(j: unknown): AwsCredentials {
  const o = j as { AccessKeyId?: string; SecretAccessKey?: string; Token?: string; Expiration?: string };
  if (!o.AccessKeyId || !o.SecretAccessKey) throw new Error("the credentials endpoint returned no keys");
  return { accessKeyId: o.AccessKeyId, secretAccessKey: o.SecretAccessKey, sessionToken: o.Token, expiresAt: o.Expiration ? Date.parse(o.Expiration) : undefined };
}
