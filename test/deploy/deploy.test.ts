/** The deployment files are consistent with the binary: probes, mounts vs k8s: references, config validity, signals. */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/index.ts";
import { ROOT, runCli } from "../helpers/gateway.ts";

const dir = join(ROOT, "deploy");
const yaml = (f: string) => Bun.YAML.parse(readFileSync(join(dir, "kubernetes", f), "utf8")) as Record<string, any>;

describe("kubernetes", () => {
  const deployment = yaml("deployment.yaml");
  const configmap = yaml("configmap.yaml");
  const container = deployment.spec.template.spec.containers[0];
  const toml = configmap.data["gateway.toml"] as string;

  test("every manifest parses and kustomization lists them", () => {
    const files = readdirSync(join(dir, "kubernetes")).filter((f) => f.endsWith(".yaml"));
    for (const f of files) expect(yaml(f).kind, f).toBeString();
    const k = yaml("kustomization.yaml");
    for (const r of k.resources as string[]) expect(files).toContain(r);
  });

  test("probes hit /healthz and /readyz on the container port", () => {
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.ports[0].containerPort).toBe(parseConfig(toml).server.port);
  });

  test("the Secret is mounted where the ConfigMap's k8s: references point", () => {
    const config = parseConfig(toml);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === "secrets");
    const secretVolume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === "secrets");
    const refs = [...toml.matchAll(/"k8s:([^/]+)\/([^:]+):([^"]+)"/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [, ns, secret] of refs) {
      expect(mount.mountPath).toBe(`${config.secrets.k8s_root}/${ns}/${secret}`);
      expect(secretVolume.secret.secretName).toBe(secret);
      expect(ns).toBe(yaml("kustomization.yaml").namespace);
    }
    const example = yaml("secret.example.yaml");
    for (const [, , , key] of refs) expect(Object.keys(example.stringData)).toContain(key);
  });

  test("the ConfigMap's gateway.toml passes `hubgate check` with the secret files in place", async () => {
    const root = mkdtempSync(join(tmpdir(), "hg-k8s-"));
    mkdirSync(join(root, "hubgate", "hubgate-secrets"), { recursive: true });
    for (const [k, v] of Object.entries({ "app-key": Buffer.alloc(32, 1).toString("base64"), "admin-token": "t".repeat(40), "github-pat-bot-1": "ghp_x" }))
      writeFileSync(join(root, "hubgate", "hubgate-secrets", k), `${v}\n`);
    const path = join(root, "gateway.toml");
    // the data volume, as the PVC mounts it at /var/lib/hubgate
    mkdirSync(join(root, "data"));
    writeFileSync(path, toml.replace('k8s_root = "/etc/secrets"', `k8s_root = "${root}"`).replace('path = "/var/lib/hubgate/hubgate.db"', `path = "${join(root, "data", "hubgate.db")}"`));
    const r = await runCli(["check", "--config", path]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("graceful: termination grace exceeds shutdown_grace; one replica, Recreate; hardened", () => {
    const grace = parseConfig(toml).server.shutdown_grace;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(String(grace).replace("s", "")));
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe("Recreate");
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe("Dockerfile and systemd", () => {
  const docker = readFileSync(join(dir, "Dockerfile"), "utf8");
  test("multi-stage, compiled binary on a distroless base, non-root, lockfile install", () => {
    const stages = docker.match(/^FROM /gm) ?? [];
    expect(stages.length).toBe(2);
    expect(docker).toContain("bun install --frozen-lockfile");
    expect(docker).toContain("bun run build");
    expect(docker).toMatch(/FROM gcr\.io\/distroless\/[a-z-]+debian12:nonroot/);
    expect(docker).toContain("COPY --from=build /src/dist/hubgate");
    expect(docker).toMatch(/^USER nonroot$/m);
  });

  test("the container config is valid and listens on every interface", () => {
    const c = parseConfig(readFileSync(join(dir, "container.toml"), "utf8"));
    expect(c.server.host).toBe("0.0.0.0");
    expect(c.storage.path).toStartWith("/var/lib/hubgate/");
  });

  test("systemd: reload is SIGHUP, stop waits longer than the drain, hardened, no root", () => {
    const unit = readFileSync(join(dir, "systemd", "hubgate.service"), "utf8");
    expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID");
    expect(unit).toContain("ExecStart=/usr/local/bin/hubgate serve --config /etc/hubgate/gateway.toml");
    expect(Number(/TimeoutStopSec=(\d+)/.exec(unit)![1])).toBeGreaterThan(30);
    for (const k of ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=hubgate"]) expect(unit).toContain(k);
  });
});
