/** The replicas examples (docker compose and Kubernetes) are consistent with the binary and with each other. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/index.ts";
import { ROOT, runCli } from "../helpers/gateway.ts";

const dir = join(ROOT, "deploy", "replicas");
const read = (...p: string[]) => readFileSync(join(dir, ...p), "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML
const yaml = (...p: string[]) => Bun.YAML.parse(read(...p)) as Record<string, any>;
const ENV = {
  HUBGATE_DATABASE_URL: "postgres://hubgate:pw@127.0.0.1:5432/hubgate",
  HUBGATE_REDIS_URL: "redis://127.0.0.1:6379",
  HUBGATE_APP_KEY: Buffer.alloc(32, 3).toString("base64"),
  HUBGATE_ADMIN_TOKEN: "a".repeat(40),
};

async function checks(toml: string): Promise<{ code: number; stderr: string; stdout: string }> {
  const d = mkdtempSync(join(tmpdir(), "hg-replicas-"));
  writeFileSync(join(d, "gateway.toml"), toml);
  return runCli(["check", "--config", join(d, "gateway.toml")], { env: ENV });
}

describe("docker compose: two replicas on PostgreSQL and Redis behind a load balancer", () => {
  const compose = yaml("docker-compose.yml");
  const toml = read("gateway.toml");

  test("the services are there and both replicas run the same config with the same app key", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["hubgate-1", "hubgate-2", "lb", "postgres", "redis"]);
    const [a, b] = [compose.services["hubgate-1"], compose.services["hubgate-2"]];
    expect(a.environment.HUBGATE_APP_KEY).toBe(b.environment.HUBGATE_APP_KEY);
    expect(a.volumes).toEqual(b.volumes);
    expect(a.environment.HUBGATE_DATABASE_URL).toStartWith("postgres://");
    expect(a.environment.HUBGATE_REDIS_URL).toStartWith("redis://");
  });

  test("the load balancer spreads over both replicas on the port the config listens on", () => {
    const port = parseConfig(toml).server.port;
    const conf = read("nginx.conf");
    for (const r of ["hubgate-1", "hubgate-2"]) expect(conf).toContain(`server ${r}:${port}`);
    expect(conf).toContain("proxy_buffering off"); // MCP streams
    expect(conf).toContain("X-Forwarded-For");
    expect(parseConfig(toml).server.trust_proxy).toBe(true);
  });

  test("the replicas' gateway.toml passes `hubgate check` (PostgreSQL store, Redis state, workers)", async () => {
    const c = parseConfig(toml);
    expect([c.storage.backend, c.state.backend]).toEqual(["postgres", "redis"]);
    const r = await checks(toml);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("kubernetes: three replicas", () => {
  const deployment = yaml("kubernetes", "deployment.yaml");
  const container = deployment.spec.template.spec.containers[0];
  const toml = yaml("kubernetes", "configmap.yaml").data["gateway.toml"] as string;
  const secret = yaml("kubernetes", "secret.example.yaml");

  test("every manifest parses and kustomization lists them", () => {
    const files = readdirSync(join(dir, "kubernetes")).filter((f) => f.endsWith(".yaml"));
    for (const f of files) expect(yaml("kubernetes", f).kind, f).toBeString();
    for (const r of yaml("kubernetes", "kustomization.yaml").resources as string[]) expect(files).toContain(r);
  });

  test("replicas: 3, rolling updates without losing capacity, a disruption budget, no volume claim", () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    expect(yaml("kubernetes", "pdb.yaml").spec.minAvailable).toBeLessThan(3);
    expect(JSON.stringify(deployment)).not.toContain("persistentVolumeClaim");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.ports[0].containerPort).toBe(parseConfig(toml).server.port);
  });

  test("every env: reference of the config is set from a key the Secret has", () => {
    const refs = [...toml.matchAll(/"env:([A-Z_]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) {
      const e = (container.env as { name: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[]).find((x) => x.name === name);
      expect(e, name).toBeDefined();
      expect(e!.valueFrom!.secretKeyRef.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(e!.valueFrom!.secretKeyRef.key);
    }
  });

  test("graceful: termination grace exceeds shutdown_grace", () => {
    const grace = Number(String(parseConfig(toml).server.shutdown_grace).replace("s", ""));
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(grace);
  });

  test("the ConfigMap's gateway.toml passes `hubgate check`", async () => {
    const r = await checks(toml);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
