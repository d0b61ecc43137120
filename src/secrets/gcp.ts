/**
 * Google Secret Manager: versions/V:access with an OAuth access token from a service-account key
 * (JWT-bearer grant signed with jose) or, without one, from the GCE/GKE metadata server. Tokens are
 * cached until a minute before they expire.
 */
import { readFileSync } from "node:fs";
import { importPKCS8, SignJWT } from "jose";
import { bodyText, call, parseJson, ResolveError, str, type CloudDeps } from "./http.ts";

export type GcpDeps = CloudDeps;

const REFRESH_MARGIN_MS = 60_000;
const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

interface Token {
  value: string;
  expiresAt: number;
}

export class GcpClient {
  private token: Token | null = null;
  private pending: Promise<Token> | null = null;
  constructor(private readonly d: GcpDeps) {}

  /** The payload of `projects/P/secrets/S/versions/V` as UTF-8. Throws ResolveError with a safe message. */
  async access(resource: string): Promise<string> {
    const token = await this.accessToken();
    const url = `${this.d.opts.gcp_secretmanager_endpoint.replace(/\/+$/, "")}/v1/${resource}:access`;
    const res = await call(this.d.fetch, url, { headers: { authorization: `Bearer ${token}` } }, this.d.timeoutMs, "Secret Manager");
    const body = parseJson(await bodyText(res, "Secret Manager"));
    if (!res.ok) {
      const err = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
      const why = [str(err, "status"), str(err, "message")].filter(Boolean).join(": ");
      throw new ResolveError(`Secret Manager refused (HTTP ${res.status}${why ? `): ${why}` : ")"}`);
    }
    const payload = typeof body === "object" && body !== null ? (body as { payload?: unknown }).payload : undefined;
    const data = str(payload, "data");
    if (data === undefined) throw new ResolveError("Secret Manager returned no payload");
    return Buffer.from(data, "base64").toString("utf8");
  }

  private async accessToken(): Promise<string> {
    const t = this.token;
    if (t && t.expiresAt - this.d.now() > REFRESH_MARGIN_MS) return t.value;
    this.pending ??= this.fetchToken()
      .then((fresh) => (this.token = fresh))
      .finally(() => (this.pending = null));
    return (await this.pending).value;
  }

  private async fetchToken(): Promise<Token> {
    const file = this.d.opts.gcp_credentials_file || this.d.env.GOOGLE_APPLICATION_CREDENTIALS;
    const source = file ? "service-account" : "metadata";
    const r = file ? await this.serviceAccountToken(file) : await this.metadataToken();
    this.d.log?.debug("gcp access token obtained", { source, expires_in: r.expiresIn });
    return { value: r.token, expiresAt: this.d.now() + r.expiresIn * 1000 };
  }

  private async serviceAccountToken(file: string): Promise<{ token: string; expiresIn: number }> {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new ResolveError(`service-account key file ${file} ${code === "ENOENT" ? "does not exist" : "is unreadable"}`);
    }
    const sa = parseJson(text);
    if (sa === undefined) throw new ResolveError(`service-account key file ${file} is not valid JSON`);
    const email = str(sa, "client_email");
    const pem = str(sa, "private_key");
    if (!email || !pem) throw new ResolveError(`service-account key file ${file} lacks client_email or private_key`);
    const kid = str(sa, "private_key_id");
    const aud = str(sa, "token_uri") || DEFAULT_TOKEN_URI;
    let key: CryptoKey;
    try {
      key = await importPKCS8(pem, "RS256");
    } catch {
      throw new ResolveError(`service-account key file ${file}: private_key is not a PKCS#8 RSA key`);
    }
    const now = Math.floor(this.d.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(kid ? { kid } : {}) })
      .setIssuer(email)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const body = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString();
    const init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body };
    const res = await call(this.d.fetch, aud, init, this.d.timeoutMs, "Google token endpoint");
    const j = parseJson(await bodyText(res, "Google token endpoint"));
    const token = str(j, "access_token");
    if (!res.ok || !token) {
      const why = [str(j, "error"), str(j, "error_description")].filter(Boolean).join(": ") || `HTTP ${res.status}`;
      throw new ResolveError(`Google token endpoint refused ${email}: ${why}`);
    }
    return { token, expiresIn: expiresIn(j) };
  }

  private async metadataToken(): Promise<{ token: string; expiresIn: number }> {
    const url = `${this.d.opts.gcp_metadata_url.replace(/\/+$/, "")}/computeMetadata/v1/instance/service-accounts/default/token`;
    const res = await call(this.d.fetch, url, { headers: { "metadata-flavor": "Google" } }, this.d.timeoutMs, "GCP metadata server");
    const j = parseJson(await bodyText(res, "GCP metadata server"));
    const token = str(j, "access_token");
    if (!res.ok || !token)
      throw new ResolveError(`GCP metadata server gave no token (HTTP ${res.status}); set gcp_credentials_file or GOOGLE_APPLICATION_CREDENTIALS`);
    return { token, expiresIn: expiresIn(j) };
  }
}

function expiresIn(j: unknown): number {
  const v = typeof j === "object" && j !== null ? (j as { expires_in?: unknown }).expires_in : undefined;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 3600;
}
