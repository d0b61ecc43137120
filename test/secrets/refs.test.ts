import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSecretRef, describeRef } from "../../src/secrets/refs.ts";
import { createSecretResolver } from "../../src/secrets/resolve.ts";
import { signV4 } from "../../src/secrets/sigv4.ts";
import { opts } from "../helpers/secrets.ts";
import { Logger } from "../../src/core/log.ts";


describe("reference syntax", () => {
  test("each scheme parses; anything else is a literal", () => {
    expect(parseSecretRef("env:GH_TOKEN")).toEqual({ kind: "env", name: "GH_TOKEN" });
    expect(parseSecretRef("file:/run/x")).toEqual({ kind: "file", path: "/run/x" });
    expect(parseSecretRef("k8s:hubgate/creds:token")).toEqual({ kind: "k8s", namespace: "hubgate", secret: "creds", key: "token" });
    expect(parseSecretRef("gcp:secretmanager:projects/p/secrets/s/versions/latest")).toEqual({ kind: "gcp", resource: "projects/p/secrets/s/versions/latest" });
    expect(parseSecretRef("plain-value")).toEqual({ kind: "literal", value: "plain-value" });
  });

  test("AWS: names, JSON keys and ARNs (which contain colons themselves)", () => {
    expect(parseSecretRef("aws:secretsmanager:prod/db")).toEqual({ kind: "aws", secretId: "prod/db", jsonKey: null, arnRegion: null });
    expect(parseSecretRef("aws:secretsmanager:prod/db:password")).toEqual({ kind: "aws", secretId: "prod/db", jsonKey: "password", arnRegion: null });
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";
    expect(parseSecretRef(`aws:secretsmanager:${arn}`)).toEqual({ kind: "aws", secretId: arn, jsonKey: null, arnRegion: "eu-west-1" });
    expect(parseSecretRef(`aws:secretsmanager:${arn}:password`)).toEqual({ kind: "aws", secretId: arn, jsonKey: "password", arnRegion: "eu-west-1" });
  });

  test("k8s parts: letters, digits, . _ - but never a path step", () => {
    expect(parseSecretRef("k8s:My.ns/sec_1:tls.crt")).toEqual({ kind: "k8s", namespace: "My.ns", secret: "sec_1", key: "tls.crt" });
    for (const bad of ["k8s:./s:k", "k8s:ns/..:k", "k8s:ns/s:a..b", "k8s:ns/s:k/x", "k8s:ns/s:", "k8s:ns:k", "k8s:ns/s/x:k", "k8s:ns/s:k e"])
      expect(() => parseSecretRef(bad), bad).toThrow(/k8s:/);
  });

  test("an ARN JSON key may itself hold colons", () => {
    const arn = "arn:aws:secretsmanager:us-east-2:1:secret:n-AbCd";
    expect(parseSecretRef(`aws:secretsmanager:${arn}:a:b`)).toMatchObject({ secretId: arn, jsonKey: "a:b", arnRegion: "us-east-2" });
    expect(parseSecretRef("aws:secretsmanager:arn:aws-cn:secretsmanager:cn-north-1:1:secret:x")).toMatchObject({ arnRegion: "cn-north-1", jsonKey: null });
  });

  test("a known scheme with a bad shape is an error, not a literal", () => {
    for (const bad of ["env:", "env:1BAD", "k8s:nope", "k8s:ns/../x:key", "k8s:ns/name:..", "aws:ssm:x", "aws:secretsmanager:", "aws:secretsmanager:x:", "gcp:secretmanager:projects/p", "aws:secretsmanager:arn:aws:s3:::bucket"])
      expect(() => parseSecretRef(bad), bad).toThrow();
  });

  test("descriptions never include a literal", () => {
    expect(describeRef("env:X")).toBe("env:X");
    expect(describeRef("hunter2")).toBe("a literal value");
  });
});

describe("env, file, k8s, literal", () => {
  const dir = mkdtempSync(join(tmpdir(), "hg-secrets-"));
  writeFileSync(join(dir, "token"), "file-secret-value\n");
  writeFileSync(join(dir, "crlf"), "crlf-value\r\n");
  writeFileSync(join(dir, "two-newlines"), "keep-one\n\n");
  mkdirSync(join(dir, "k8s", "hubgate", "creds"), { recursive: true });
  writeFileSync(join(dir, "k8s", "hubgate", "creds", "token"), "k8s-secret-value\n");
  writeFileSync(join(dir, "locked"), "x");
  chmodSync(join(dir, "locked"), 0o000);
  const r = createSecretResolver(opts({ k8s_root: join(dir, "k8s") }), { env: { SET: "env-secret-value", EMPTY: "" } });

  test("values resolve; one trailing newline is trimmed", async () => {
    expect(await r.resolve("env:SET")).toBe("env-secret-value");
    expect(await r.resolve(`file:${join(dir, "token")}`)).toBe("file-secret-value");
    expect(await r.resolve(`file:${join(dir, "crlf")}`)).toBe("crlf-value");
    expect(await r.resolve(`file:${join(dir, "two-newlines")}`)).toBe("keep-one\n");
    expect(await r.resolve("k8s:hubgate/creds:token")).toBe("k8s-secret-value");
    expect(await r.resolve("literal-value")).toBe("literal-value");
    expect(r.isLiteral("literal-value")).toBe(true);
    expect(r.isLiteral("env:SET")).toBe(false);
  });

  test("failures name the reference and the reason", async () => {
    await expect(r.resolve("env:MISSING")).rejects.toThrow("env:MISSING: the environment variable is not set");
    await expect(r.resolve("env:EMPTY")).rejects.toThrow(/not set/);
    await expect(r.resolve(`file:${join(dir, "nope")}`)).rejects.toThrow(/no such file/);
    await expect(r.resolve("k8s:hubgate/creds:missing")).rejects.toThrow(/k8s:hubgate\/creds:missing: no such file.*k8s_root/);
    if (process.getuid?.() !== 0) await expect(r.resolve(`file:${join(dir, "locked")}`)).rejects.toThrow(/permission denied/);
    await expect(r.resolve("env:MISSING")).rejects.toMatchObject({ code: "secret_unresolved" });
  });
});

describe("logging", () => {
  test("debug logs name references, never values", async () => {
    const lines: string[] = [];
    const log = new Logger("debug", {}, (l) => lines.push(l));
    const r = createSecretResolver(opts(), { env: { TOKEN: "tok-value-123" }, log });
    expect(await r.resolve("env:TOKEN")).toBe("tok-value-123");
    expect(await r.resolve("literal-value-456")).toBe("literal-value-456");
    await r.resolve("env:NOPE").catch(() => undefined);
    expect(lines.length).toBe(3);
    expect(lines.join("\n")).toContain("env:TOKEN");
    expect(lines.join("\n")).not.toMatch(/tok-value-123|literal-value-456/);
  });
});

describe("SigV4", () => {
  test("matches the AWS test suite's get-vanilla vector", () => {
    const h = signV4({
      method: "GET",
      url: new URL("https://example.amazonaws.com/"),
      headers: {},
      body: "",
      region: "us-east-1",
      service: "service",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
      date: new Date("2015-08-30T12:36:00Z"),
    });
    expect(h.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
  });

  test("get-vanilla-query-order-key-case vector (query sorting)", () => {
    const h = signV4({
      method: "GET",
      url: new URL("https://example.amazonaws.com/?Param2=value2&Param1=value1"),
      headers: {},
      body: "",
      region: "us-east-1",
      service: "service",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
      date: new Date("2015-08-30T12:36:00Z"),
    });
    expect(h.authorization).toEndWith("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  });
});
