// End-to-end test of the admin UI in Debian's Chromium against a real, freshly started
// appliance (tests/ui_browser.rs starts it and the S3 and file servers, then runs this).
// Every screen is checked for console errors, CSP violations, requests to other hosts,
// axe-core serious/critical violations and sideways scrolling at 1280×800 and 390×844, and
// photographed. The last stdout line is a JSON summary the Rust test checks against the API.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/ui_browser.rs sets it)`);
  return value;
};
const BASE = env("ROCKIT_UI_BASE");
const SHOTS = env("ROCKIT_UI_SCREENSHOTS");
const S3 = JSON.parse(env("ROCKIT_UI_S3"));
const origin = new URL(BASE).origin;
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const TIMEOUT = 60_000;

const failures = [];
const fail = (message) => failures.push(message);
const log = (message) => console.error(`ui-e2e: ${message}`);

const browser = await chromium.launch({
  executablePath: process.env.ROCKIT_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: DESKTOP });
context.setDefaultTimeout(TIMEOUT);
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
await context.addInitScript(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
});
const page = await context.newPage();
const consoleErrors = [];
const requests = [];
page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
/** The Content-Range of every upload request, in order. */
const uploadRanges = [];
page.on("request", (r) => {
  requests.push(r.url());
  if (r.url().includes("/upload/v1/")) uploadRanges.push(r.headers()["content-range"] ?? "");
});
page.on("dialog", (d) => d.accept());
mkdirSync(SHOTS, { recursive: true });

const heading = (name) => page.getByRole("heading", { level: 1, name });
const button = (name) => page.getByRole("button", { name, exact: true });
const field = (label) => page.getByLabel(label, { exact: true });

/** The checks every screen passes, then its screenshot. */
async function screen(name) {
  await page.waitForLoadState("networkidle");
  const alerts = await page.getByRole("alert").allTextContents();
  if (alerts.length) fail(`${name}: the screen shows errors: ${alerts.join("; ")}`);
  const violations = await page.evaluate(() => window.__cspViolations);
  if (violations.length) fail(`${name}: CSP violations ${violations.join("; ")}`);
  await page.evaluate(axeSource);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  for (const v of axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical")) {
    fail(`${name}: axe ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }
  for (const [label, size] of [["1280x800", DESKTOP], ["390x844", PHONE]]) {
    await page.setViewportSize(size);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (wide > 0) fail(`${name}: scrolls sideways by ${wide}px at ${label}`);
    if (size === PHONE) await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  log(`screen ${name} checked`);
}

/** Polls `check` until it holds; fails the walk after TIMEOUT. */
async function until(check, what) {
  const deadline = Date.now() + TIMEOUT;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(100);
  }
}

/** The session's current access token (the UI renews it). */
const accessToken = () => page.evaluate(() => JSON.parse(localStorage.getItem("rockit-edge.session")).accessToken);

async function nav(name) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name }).click();
  await heading(name).waitFor();
}

const summary = {};
try {
  // 1. The first load on a fresh data dir: the login page, nothing but the appliance asked.
  const first = await page.goto(`${BASE}/`);
  await heading("Log in").waitFor();
  summary.csp = first.headers()["content-security-policy"] ?? "";
  if (!summary.csp.includes("script-src 'self'")) fail(`no strict CSP on the page: ${summary.csp}`);
  if (consoleErrors.length) fail(`console errors on the first load: ${consoleErrors.join("; ")}`);
  await screen("login");

  // 2. Instance-admin mode with a pasted token: create two orgs (the second with the first's
  //    admin password, so that logging in offers a choice).
  await page.getByText("Instance administrator").click();
  await field("Admin token").fill(env("ROCKIT_UI_ADMIN_TOKEN"));
  await button("Enter admin mode").click();
  await heading("Organizations").waitFor();
  await field("Name").fill("acme");
  await field("Label").fill("Acme Games");
  await button("Create organization").click();
  const password = (await page.locator(".secret code").textContent()).trim();
  await field("Name").fill("beta");
  await field("Administrator's initial password (optional)").fill(password);
  await button("Create organization").click();
  await button("Delete beta").waitFor();
  await screen("admin-orgs");
  await button("Leave admin mode").click();

  // 3. Log in with the keyboard alone, choose the org.
  await heading("Log in").waitFor();
  for (let i = 0; i < 10 && !(await field("Username").evaluate((e) => e === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await page.keyboard.type("admin");
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Choose an organization" }).waitFor();
  await screen("org-choice");
  await button("Acme Games (acme)").click();
  await heading("Apps").waitFor();

  // 4. An app, and a build uploaded from the browser; its second piece is cut off once and the
  //    upload resumes.
  await field("Name").fill("racer");
  await field("Label").fill("Racer");
  await field("Builds kept").fill("3");
  await button("Create app").click();
  await heading("Racer").waitFor();
  let cut = false;
  await page.route("**/upload/v1/**", (route) => {
    const range = route.request().headers()["content-range"] ?? "";
    if (!cut && range.startsWith("bytes 4194304-")) {
      cut = true;
      return route.abort("connectionreset");
    }
    return route.continue();
  });
  await field("Build tar (.tar, .tar.gz, .tar.zst)").setInputFiles(env("ROCKIT_UI_TAR1"));
  await field("Build name (optional)").first().fill("1.0");
  await button("Upload").click();
  const bar = page.getByRole("progressbar", { name: "Upload progress" });
  await bar.waitFor();
  const seen = new Set();
  await until(async () => {
    const value = await bar.getAttribute("value");
    seen.add(value);
    return value === "100";
  }, "the upload progress bar at 100 %");
  summary.uploadProgress = [...seen];
  if (!cut) fail("the upload was never cut off, so resuming was not tested");
  summary.uploadResumed = cut;
  await page.getByText("Uploaded. Processing:").waitFor();
  const files = page.getByRole("table", { name: "Files of the current image" });
  await files.getByText("img.dxf").waitFor();
  summary.filesShown = await files.locator("tbody tr").count();

  // 5. A second build imported by URL; its patch from the first appears.
  await field("Tar URL (http or https)").fill(env("ROCKIT_UI_TAR2_URL"));
  await field("Build name (optional)").nth(1).fill("2.0");
  await button("Import").click();
  await page.getByRole("heading", { name: /Patch #1 → #2/ }).waitFor({ timeout: 120_000 });
  summary.patchHeading = await page.getByRole("heading", { name: /Patch #1 → #2/ }).textContent();
  await screen("app");

  // 6. Roll back to the first build.
  await button("Roll back to #1").click();
  await button("Roll forward to #2").waitFor({ timeout: 120_000 });
  await page.getByText("current build #1").waitFor();

  // 7. A deployment on the real S3 server; then its label edited without retyping a secret.
  await nav("Deployments");
  await field("Name").fill("cdn");
  await field("Label").fill("CDN");
  await field("Endpoint (host[:port], or http://host:port for a local store)").fill(S3.hostname);
  await field("Region").fill("us-east-1");
  await field("Bucket").fill(S3.bucket);
  await field("Prefix (optional)").fill("games");
  await field("Access key").fill(S3.accessKey);
  await field("Secret key").fill(S3.secretKey);
  await field("CDN token").selectOption("gcore");
  await field("CDN base URL").fill("https://cdn.example.com");
  await field("Secure token").fill("gcore-secret-token");
  await button("Create deployment").click();
  await heading("CDN").waitFor();
  await page.locator(".summary .badge", { hasText: "ok" }).waitFor();
  await field("Label").fill("CDN origin");
  await button("Save deployment").click();
  await heading("CDN origin").waitFor();
  await page.reload();
  await heading("CDN origin").waitFor();
  summary.deploymentStatus = (await page.locator(".summary .badge").textContent()).trim();
  await screen("deployment");
  await nav("Deployments");
  await screen("deployments");

  // 7b. Publish the current build to it from the app's page.
  await nav("Apps");
  await page.getByRole("link", { name: "Racer" }).click();
  await button("Publish the current build again").click();
  await page.locator(".summary", { hasText: "published to cdn" }).waitFor({ timeout: 120_000 });

  // 8. A role made with the matrix.
  await nav("Roles");
  await field("Name").fill("Publishers");
  for (const box of ["apps read", "apps update", "tasks read"]) await field(box).check();
  await button("Create role").click();
  await heading("Role Publishers").waitFor();
  await screen("role");

  // 9. A machine user holding it; its API key copied.
  await nav("Users");
  await field("Kind").selectOption("machine");
  await field("Username").fill("ci");
  await field("Label").fill("CI pipeline");
  await field("Publishers").check();
  await button("Create user").click();
  const shownKey = (await page.locator(".secret code").textContent()).trim();
  await button("Copy api key").click();
  await button("Copied").waitFor();
  summary.apiKey = await page.evaluate(() => navigator.clipboard.readText());
  if (summary.apiKey !== shownKey) fail("the copied API key is not the one shown");
  await screen("users");
  // Its details list its keys: one more added (shown once), then revoked from the list.
  await page.getByRole("link", { name: "ci", exact: true }).click();
  await heading("ci").waitFor();
  const keys = page.getByRole("table", { name: "API keys" }).locator("tbody tr");
  await until(async () => (await keys.count()) === 1, "the machine user's one key");
  await field("Key label (optional)").fill("spare");
  await button("Add API key").click();
  const spare = (await page.locator(".secret code").textContent()).trim();
  await until(async () => (await keys.count()) === 2, "the added key in the list");
  const spareId = spare.split("_")[1];
  await screen("machine-user");
  await button(`Revoke ${spareId}`).click();
  await until(async () => (await keys.count()) === 1, "the revoked key gone from the list");
  summary.revokedKey = spare;

  // 10. The other screens, with what they hold by now.
  await nav("Tasks");
  await field("Type").selectOption("mkraw");
  await page.getByRole("link", { name: /^mkraw / }).first().waitFor();
  await screen("tasks");
  await page.getByRole("link", { name: /^mkraw / }).first().click();
  await heading("Task mkraw").waitFor();
  await nav("Access keys");
  await field("App").selectOption("racer");
  await button("Create access key").click();
  summary.accessKey = (await page.locator(".secret code").textContent()).trim();
  await screen("access-keys");
  await nav("Subscriptions");
  await field("Name").fill("builds");
  await field("Webhook URL").fill("https://hooks.example.com/rockit");
  await field("deploy.end").check();
  await button("Subscribe").click();
  await page.locator(".secret code").waitFor();
  await screen("subscriptions");
  // 10b. What tasks offer: a warning acknowledged, a failed download retried, an upload that
  //      nobody sends expired.
  await nav("Apps");
  await field("Name").fill("tools");
  await field("Label").fill("Tools");
  await button("Create app").click();
  await heading("Tools").waitFor();
  await field("Tar URL (http or https)").fill(env("ROCKIT_UI_TAR_GZ_URL"));
  await button("Import").click();
  await page.getByRole("table", { name: "Files of the current image" }).getByText("img.dxf").waitFor({ timeout: 120_000 });
  // An upload interrupted by a reload (its second piece never answered) continues when the
  // same file is chosen again: no new upload URL, no byte of the first piece sent twice.
  // From the second piece on, every upload request fails (the network is gone) until the page
  // has been reloaded.
  let offline = false;
  const secondPiece = new Promise((resolve) => {
    page.route("**/upload/v1/**", (route) => {
      if ((route.request().headers()["content-range"] ?? "").startsWith("bytes 4194304-")) {
        offline = true;
        resolve();
      }
      return offline ? route.abort("internetdisconnected") : route.continue();
    });
  });
  await field("Build tar (.tar, .tar.gz, .tar.zst)").setInputFiles(env("ROCKIT_UI_TAR4"));
  await button("Upload").click();
  await secondPiece;
  const imports = () => requests.filter((url) => url.endsWith("/be/v1/builds")).length;
  const importsBefore = imports();
  await page.reload();
  await heading("Tools").waitFor();
  await page.unrouteAll({ behavior: "ignoreErrors" });
  const rangesBefore = uploadRanges.length;
  await field("Build tar (.tar, .tar.gz, .tar.zst)").setInputFiles(env("ROCKIT_UI_TAR4"));
  await button("Upload").click();
  await page.getByText("continuing an earlier upload of this file").waitFor();
  await page.getByText("Uploaded. Processing:").waitFor({ timeout: 120_000 });
  summary.resumedAfterReload = imports() === importsBefore;
  summary.rangesAfterReload = uploadRanges.slice(rangesBefore);

  await nav("Tasks");
  await field("App name contains").fill("tools");
  await field("Type").selectOption("mkraw");
  // Newest first: the oldest mkraw of tools is the gzip import's.
  await until(async () => (await page.getByRole("link", { name: /^mkraw / }).count()) === 2, "both mkraw tasks of tools");
  await page.getByRole("link", { name: /^mkraw / }).last().click();
  await heading("Task mkraw").waitFor();
  await button("Acknowledge").click();
  await page.getByRole("table", { name: "Warnings" }).getByRole("cell", { name: "yes" }).waitFor();
  await screen("task");

  await nav("Apps");
  await page.getByRole("link", { name: "Tools" }).click();
  await field("Tar URL (http or https)").fill(env("ROCKIT_UI_DEAD_URL"));
  await button("Import").click();
  await page.getByRole("status").getByRole("link", { name: /^task / }).click();
  await page.getByRole("heading", { name: "Exception" }).waitFor({ timeout: 120_000 });
  summary.failedException = await page.locator("pre").first().textContent();
  await button("Retry task").click();
  const attempts = page.locator(".facts dt", { hasText: "Attempts" }).locator("xpath=following-sibling::dd[1]");
  await until(async () => (await attempts.textContent()) === "2", "the retried task's second attempt");

  const waiting = await page.request.post(`${BASE}/be/v1/builds`, {
    headers: { Authorization: `Bearer ${await accessToken()}` },
    data: { appName: "tools", buildName: "never-sent" },
  });
  const upload = (await waiting.json()).taskName;
  await page.goto(`${BASE}/ui/tasks/${upload}`);
  await heading("Task upload").waitFor();
  await button("Expire upload").click();
  await page.locator(".facts .badge", { hasText: "expired" }).waitFor();
  summary.expiredUpload = upload;

  // 10c. A staged build committed, then the app deleted.
  const toolsApp = async () => {
    const answer = await page.request.get(`${BASE}/be/v1/apps/tools`, { headers: { Authorization: `Bearer ${await accessToken()}` } });
    return (await answer.json()).app;
  };
  await nav("Apps");
  await page.getByRole("link", { name: "Tools" }).click();
  await field("Publish each processed build at once (auto commit)").uncheck();
  await button("Save settings").click();
  await until(async () => (await toolsApp()).autoCommit === false, "auto commit off");
  await field("Tar URL (http or https)").fill(env("ROCKIT_UI_TAR_GZ_URL"));
  await field("Build name (optional)").nth(1).fill("3.0-rc");
  await button("Import").click();
  await button("Commit build #3").click({ timeout: 120_000 });
  await page.getByText("current build #3").waitFor({ timeout: 120_000 });
  // The commit's deploy runs on; an app is deleted once idle (the button says so otherwise).
  await until(async () => (await toolsApp()).state === "idle", "tools idle after its deploy");
  await button("Delete app").click();
  await heading("Apps").waitFor();
  await page.getByRole("link", { name: "Tools" }).waitFor({ state: "detached" });
  summary.committedAndDeleted = true;

  await nav("Audit trail");
  await field("Action contains").fill("POST /be/v1/apps");
  await page.getByText("POST /be/v1/apps").first().waitFor();
  await screen("audit");
  await nav("Apps");
  await page.getByRole("link", { name: "Racer" }).waitFor();
  await screen("apps");

  // 11. An API error appears next to what caused it.
  await field("Name").fill("racer");
  await field("Label").fill("Again");
  await button("Create app").click();
  summary.errorShown = (await page.getByRole("form", { name: "New app" }).getByRole("alert").textContent()).trim();

  // 12. Log out: the session's token stops working at once.
  const token = await accessToken();
  await button("Log out").click();
  await heading("Log in").waitFor();
  const after = await page.request.get(`${BASE}/be/v1/apps`, { headers: { Authorization: `Bearer ${token}` } });
  summary.afterLogout = after.status();

  // 13. Admin mode again: delete the second org.
  await page.getByText("Instance administrator").click();
  await field("Admin token").fill(env("ROCKIT_UI_ADMIN_TOKEN"));
  await button("Enter admin mode").click();
  await button("Delete beta").click();
  await button("Delete beta").waitFor({ state: "detached" });

  summary.refreshes = requests.filter((url) => url.endsWith("/be/v1/refresh")).length;
  const foreign = requests.filter((url) => new URL(url).origin !== origin && !url.startsWith("data:"));
  if (foreign.length) fail(`requests to other hosts: ${[...new Set(foreign)].join(", ")}`);
  // Answers the walk provokes (a 409, a cut upload, a 401 before a silent refresh) are logged
  // by Chromium as failed loads; anything else (a script error, a CSP report, a 5xx) fails.
  const unexpected = consoleErrors.filter((text) => !/^Failed to load resource: (the server responded with a status of 4\d\d|net::ERR_)/.test(text));
  if (unexpected.length) fail(`console errors: ${unexpected.join("; ")}`);
} catch (error) {
  fail(`the walk stopped: ${error.stack ?? error}`);
  await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => undefined);
} finally {
  await browser.close();
}
summary.failures = failures;
console.log(JSON.stringify(summary));
process.exit(failures.length ? 1 : 0);
