/** GitHub App installations as pooled identities: JWT signed with the app key, token refreshed before expiry. */
import { expect, test } from "bun:test";
import { exportPKCS8, generateKeyPair } from "jose";
import { fakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";

const appConfig = (url: string, appId = "4242", installation = "777") => `
[github]
api_url = "${url}"
allow_private = true
clients = "open"
cache_max_bytes = 0
[[github.identities]]
id = "app"
app_id = "${appId}"
installation_id = "${installation}"
private_key = "env:APP_PEM"
`;

test("an App installation mints its token with an RS256 JWT and re-mints it when it nears expiry", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const fake = fakeGithub({ tokB: { login: "bob", id: 2 } });
  fake.apps.set("777", { appId: "4242", publicKey, tokenTtlSec: 3600 });
  const gw = await startGateway(
    appConfig(fake.url),
    { APP_PEM: pem },
  );
  const base = gw.url.href.replace(/\/$/, "");
  try {
    const r1 = await fetch(`${base}/repos/o/r`);
    expect(r1.status).toBe(200);
    expect(((await r1.json()) as { viewer: string }).viewer).toBe("app-4242[bot]");
    await fetch(`${base}/repos/o/r2`);
    expect(fake.minted).toBe(1); // cached while far from expiry
    const stats = (await (await fetch(`${base}/stats`)).json()) as { features: { github: { identities: { id: string; budget: string; kind: string }[] } } };
    expect(stats.features.github.identities[0]).toMatchObject({ id: "app", kind: "app", budget: "app:777" });

    // a token within 5 minutes of expiry is replaced before use
    fake.apps.set("777", { appId: "4242", publicKey, tokenTtlSec: 120 });
    const gw2 = await startGateway(
      appConfig(fake.url),
      { APP_PEM: pem },
    );
    const b2 = gw2.url.href.replace(/\/$/, "");
    const before = fake.minted;
    expect((await fetch(`${b2}/repos/o/a`)).status).toBe(200);
    const second = await fetch(`${b2}/repos/o/b`);
    expect(second.status, await second.clone().text()).toBe(200);
    expect(fake.minted - before).toBe(2);
    expect(gw.lines.join("\n")).not.toContain("ghs_");
    await gw2.shutdown();
  } finally {
    await gw.shutdown();
    fake.stop();
  }
});

test("a wrong App key is refused by GitHub and surfaces as a clear 502, not a crash", async () => {
  const { publicKey } = await generateKeyPair("RS256", { extractable: true });
  const other = await generateKeyPair("RS256", { extractable: true });
  const fake = fakeGithub({});
  fake.apps.set("1", { appId: "1", publicKey });
  const gw = await startGateway(appConfig(fake.url, "1", "1"), { APP_PEM: await exportPKCS8(other.privateKey) });
  try {
    const r = await fetch(`${gw.url.href}repos/o/r`);
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: string }).error).toBe("github_app_token_failed");
  } finally {
    await gw.shutdown();
    fake.stop();
  }
});
