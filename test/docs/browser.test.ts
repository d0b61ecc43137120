/**
 * The docs page as a person sees it: Debian's Chromium, headless, driven by playwright-core, opens
 * /docs/acme with every request outside the gateway refused (the page must work with no network),
 * and finds each operation of the project listed and expanded without a click. A screenshot is kept
 * in a temp directory (its path is printed). Skipped, saying so, only when Chromium is not installed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
if (!present) console.warn(`test/docs/browser.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

let gw: Running;
let browser: BrowserContext;

beforeAll(async () => {
  if (!present) return;
  gw = await startGateway(
    `[github]
enabled = false
[[projects]]
id = "acme"
name = "Acme"
description = "Acme's integrations, for the client teams"
[[projects.endpoints]]
slug = "pets"
description = "The pet store"
upstream_url = "https://pets.example"
allowed_methods = ["GET", "POST"]
rate_limit_per_minute = 60
openapi = "file:petstore.yaml"
operations = ["listPets", "showPetById", "createPet"]
mcp_tools_from_openapi = true
[[projects.endpoints]]
slug = "raw"
upstream_url = "https://raw.example"
allowed_methods = ["GET"]
`,
    {},
    { "petstore.yaml": readFileSync(join(ROOT, "test/fixtures/openapi/petstore.yaml"), "utf8") },
  );
  // a fresh profile (playwright passes it as --user-data-dir)
  browser = await chromium.launchPersistentContext(tempDir("hubgate-chromium-"), {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 1600 },
  });
});
afterAll(async () => {
  await browser?.close();
  await gw?.shutdown();
});

test.skipIf(!present)("/docs/acme shows every operation of the project, expanded, with no request leaving the gateway", async () => {
  const page = await browser.newPage();
  const outside: string[] = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(gw.url.origin) || url.startsWith("data:")) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${gw.url.href}docs/acme`);
  await page.locator(".opblock").first().waitFor();

  // three operations from the pet store's document, GET and HEAD below raw, the project's MCP server
  const summaries = await page.locator(".opblock .opblock-summary-path").allInnerTexts();
  expect(summaries.map((s) => s.replace(/\u200b/g, "")).sort()).toEqual([
    "/api/acme/proxy/pets/v1/pets",
    "/api/acme/proxy/pets/v1/pets",
    "/api/acme/proxy/pets/v1/pets/{petId}",
    "/api/acme/proxy/raw/{path}",
    "/api/acme/proxy/raw/{path}",
    "/mcp/project/acme",
  ]);
  expect(await page.locator(".opblock.is-open").count()).toBe(6); // expanded without a click
  const text = await page.locator("#swagger-ui").innerText();
  expect(text).toContain("Acme's integrations, for the client teams");
  expect(text).toContain("60 requests per minute per token");
  expect(text).toContain("insufficient_scope");
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);

  const shot = join(tempDir("hubgate-docs-shot-"), "acme-docs.png");
  await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: 1280, height: 900 } });
  expect(readFileSync(shot).byteLength).toBeGreaterThan(10_000);
  console.log(`screenshot of /docs/acme: ${shot}`);
});
