/**
 * Google Secret Manager: versions/V:access with an OAuth access token from a service-account key
 * (JWT-bearer grant signed with jose) or, without one, from the GCE/GKE metadata server. Tokens are
 * cached until a minute before they expire.
 */
import { existsSync, readFileSync } from "node:fs";
import { importPKCS8, SignJWT } from "jose";
import { call, type CloudDeps } from "./http.ts";

export type GcpDeps = CloudDeps;

interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

export class GcpClient {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;
  constructor(private readonly d: GcpDeps) {}

  async access(resource: string): Promise<string> {
    const token = await this.accessToken();
    const url = `${this.d.opts.gcp_secretmanager_endpoint.replace(/\/+$/, "")}/v1/${resource}:access`;
    const res = await call(this.d.fetch, url, { headers: { authorization: `Bearer ${token}` } }, this.d.timeoutMs, "Secret Manager");
    const text = await res.text();
    if (!res.ok) {
      let why = `HTTP ${res.status}`;
      try {
        const e = JSON.parse(text) as { error?: { status?: string; message?: string } };
        why = [e.error?.status, e.error?.message].filter(Boolean).join(": ") || why;
      } catch {
        /* not JSON */
      }
      throw new Error(`Secret Manager refused: ${why}`);
    }
    const data = (JSON.parse(text) as { payload?: { data?: string } }).payload?.data;
    if (typeof data !== "string") throw new Error("Secret Manager returned no payload");
    return Buffer.from(data, "base64").toString("utf8");
  }

  private accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - this.d.now() > 60_000) return Promise.resolve(this.token.value);
    this.pending ??= this.fetchToken().finally(() => (this.pending = null));
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const file = this.d.opts.gcp_credentials_file ?? this.d.env.GOOGLE_APPLICATION_CREDENTIALS;
    const r = file ? await this.serviceAccountToken(file) : await this.metadataToken();
    this.token = { value: r.token, expiresAt: this.d.now() + r.expiresIn * 1000 };
    return r.token;
  }

  private async serviceAccountToken(file: string): Promise<{ token: string; expiresIn: number }> {
    if (!existsSync(file)) throw new Error(`service-account key file ${file} does not exist`);
    let sa: ServiceAccount;
    try {
      sa = JSON.parse(readFileSync(file, "utf8")) as ServiceAccount;
    } catch {
      throw new Error(`service-account key file ${file} is not valid JSON`);
    }
    if (!sa.client_email || !sa.private_key) throw new Error(`service-account key file ${file} lacks client_email or private_key`);
    const aud = sa.token_uri ?? "https://oauth2.googleapis.com/token";
    const now = Math.floor(this.d.now() / 1000);
    const key = await importPKCS8(sa.private_key, "RS256");
    const assertion = await new SignJWT({ scope: "https://www.googleapis.com/auth/cloud-platform" })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(sa.private_key_id ? { kid: sa.private_key_id } : {}) })
      .setIssuer(sa.client_email)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const body = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion });
    const res = await call(this.d.fetch, aud, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }, this.d.timeoutMs, "Google token endpoint");
    const j = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (!res.ok || !j.access_token) throw new Error(`Google token endpoint refused: ${j.error ?? `HTTP ${res.status}`}`);
    return { token: j.access_token, expiresIn: j.expires_in ?? 3600 };
  }

  private async metadataToken(): Promise<{ token: string; expiresIn: number }> {
    const url = `${this.d.opts.gcp_metadata_url.replace(/\/+$/, "")}/computeMetadata/v1/instance/service-accounts/default/token`;
    const res = await call(this.d.fetch, url, { headers: { "metadata-flavor": "Google" } }, this.d.timeoutMs, "GCP metadata server");
    const j = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!res.ok || !j.access_token) throw new Error(`GCP metadata server gave no token (HTTP ${res.status}); set gcp_credentials_file or GOOGLE_APPLICATION_CREDENTIALS`);
    return { token: j.access_token, expiresIn: j.expires_in ?? 3600 };
  }
}
