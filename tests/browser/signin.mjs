// Console sign-in in a real headless Chromium (Debian's), driven by playwright-core.
// Run by ./run, which starts a fresh server and sets up its people with the official RAM SDK.
//
//   node signin.mjs BASE_URL SETUP_JSON ARTIFACT_DIR
//
// Every step is a screenshot in ARTIFACT_DIR. Exits non-zero on the first failed expectation.

import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, setupJson, artifacts, python, bootstrap] = process.argv.slice(2);
const setup = JSON.parse(setupJson);
mkdirSync(artifacts, { recursive: true });

function expect(ok, what) {
  if (!ok) {
    throw new Error(`expected: ${what}`);
  }
  console.log(`ok - ${what}`);
}

// RFC 6238 (SHA-1, 6 digits, 30 s) computed here, independently of Rampart.
function totp(seedBase32, atMillis) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of seedBase32.replace(/=+$/, "")) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMillis / 30000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, "0");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let shot = 0;
async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: `${artifacts}/${String(shot).padStart(2, "0")}-${name}.png`, fullPage: true });
}

async function signIn(page, user, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Logon name").fill(`${user}@${setup.account}`);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
}

try {
  // 1. A password reset is due: sign in, forced change, console, sign out.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await snap(page, "login-form");
    await signIn(page, "alice", setup.password);
    expect(new URL(page.url()).pathname === "/login/password", "alice is sent to change her password");
    await snap(page, "forced-change");
    await page.getByLabel("New password", { exact: true }).fill("Alice-New-Pass-2");
    await page.getByLabel("New password again").fill("Alice-New-Pass-2");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.waitForLoadState();
    expect(new URL(page.url()).pathname === "/console", "the console follows the change");
    expect((await page.locator("#who").textContent()) === "alice", "the console says who is signed in");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "rampart_session");
    expect(session && session.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly and SameSite=Lax");
    await snap(page, "console-alice");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForLoadState();
    expect(new URL(page.url()).pathname === "/login", "sign-out returns to the sign-in page");
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname === "/login", "the console needs a session again");
    await snap(page, "signed-out");
    await context.close();
  }

  // 2. MFA bound: sign in, the code (computed here), the console says MFA: yes.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "bob", setup.password);
    expect(new URL(page.url()).pathname === "/login/mfa", "bob is asked for his MFA code");
    await snap(page, "mfa-step");
    await page.getByLabel("Authentication code").fill("000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForLoadState();
    expect((await page.getByRole("alert").textContent()).includes("not valid"), "a wrong code is refused");
    await snap(page, "mfa-wrong-code");
    await page.getByLabel("Authentication code").fill(totp(setup.bobSeed, Date.now() + 30000));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForLoadState();
    expect(new URL(page.url()).pathname === "/console", "the right code signs bob in");
    expect((await page.locator("#mfa").textContent()) === "yes", "the session passed MFA");
    await snap(page, "console-bob-mfa");
    await context.close();
  }

  // 3. Wrong passwords until the lockout.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    for (let i = 0; i < 3; i++) {
      await signIn(page, "carol", "Wrong-Password-9");
      expect((await page.getByRole("alert").textContent()).includes("incorrect"), `wrong password ${i + 1} is refused`);
    }
    await snap(page, "wrong-password");
    await signIn(page, "carol", setup.password);
    const message = await page.getByRole("alert").textContent();
    expect(message.includes("locked until"), "the right password is refused while locked, saying until when");
    await snap(page, "locked");
    await context.close();
  }

  // 4. Bind MFA on the console (QR shown, codes computed here), sign out, sign in with MFA.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "erin", setup.password);
    expect(new URL(page.url()).pathname === "/console", "erin signs in without MFA");
    await page.getByRole("link", { name: "MFA" }).click();
    await page.waitForLoadState();
    expect(await page.locator("#mfa-none").isVisible(), "erin has no MFA device yet");
    await page.getByRole("button", { name: "Bind a virtual MFA device" }).click();
    await page.waitForLoadState();
    const qr = page.locator("#mfa-qr");
    const size = await qr.evaluate((img) => [img.complete, img.naturalWidth]);
    expect(size[0] && size[1] > 0, "the QR code image renders");
    await snap(page, "mfa-enrol-qr");
    const seed = (await page.locator("#mfa-seed").textContent()).trim();
    const now = Date.now();
    await page.getByLabel("First code").fill(totp(seed, now - 30000));
    await page.getByLabel("Next code").fill(totp(seed, now));
    await page.getByRole("button", { name: "Bind" }).click();
    await page.waitForLoadState();
    expect((await page.getByRole("status").textContent()).includes("bound"), "two consecutive codes bind the device");
    await snap(page, "mfa-bound");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForLoadState();
    await signIn(page, "erin", setup.password);
    expect(new URL(page.url()).pathname === "/login/mfa", "erin is now asked for her MFA code");
    await page.getByLabel("Authentication code").fill(totp(seed, Date.now() + 30000));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForLoadState();
    expect((await page.locator("#mfa").textContent()) === "yes", "erin's session passed MFA");
    await snap(page, "console-erin-mfa");
    await context.close();
  }

  // 5. A user without permission sees a clear refusal; an administrator's pages work.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "frank", setup.password);
    await page.getByRole("link", { name: "Users" }).click();
    await page.waitForLoadState();
    const refusal = await page.locator("#refusal").textContent();
    expect(refusal.includes("not allowed") && refusal.includes("ram:ListUsers"), "frank is told he may not list users, and which permission is missing");
    await snap(page, "refusal-page");
    await context.close();
  }
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "grace", setup.password);
    await page.getByRole("link", { name: "Users" }).click();
    await page.waitForLoadState();
    await page.getByLabel("User name").fill("henry");
    await page.getByLabel("Display name").fill("Henry");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForLoadState();
    expect((await page.getByRole("status").textContent()).includes("Created user henry"), "grace creates a user");
    await page.getByRole("link", { name: "henry" }).click();
    await page.waitForLoadState();
    await page.getByLabel("Policy name").fill("ReadOnlyAccess");
    await page.getByRole("button", { name: "Attach" }).click();
    await page.waitForLoadState();
    expect((await page.locator("#attached").textContent()).includes("ReadOnlyAccess"), "the policy is attached");
    await snap(page, "admin-attached");
    await page.getByRole("button", { name: "Detach" }).click();
    await page.waitForLoadState();
    expect(!(await page.locator("#attached").textContent()).includes("ReadOnlyAccess"), "and detached");
    await snap(page, "admin-detached");
    await context.close();
  }

  // 6. SAML role SSO: an IdP-initiated POST of a response signed by signxml; choose a role.
  {
    const saml = JSON.parse(execFileSync(python, [new URL("./setup.py", import.meta.url).pathname, base.replace(/^http:\/\//, ""), bootstrap, "saml"]).toString());
    const context = await browser.newContext();
    const page = await context.newPage();
    const post = async (response) => {
      // From another origin, as an identity provider's page posts it.
      await page.setContent(`<form method="post" action="${saml.acs}"><input type="hidden" name="SAMLResponse" value="${response}"><button>Continue</button></form>`);
      await page.getByRole("button", { name: "Continue" }).click();
      await page.waitForLoadState();
    };
    await post(saml.forged);
    expect((await page.locator("#sso-error").textContent()).length > 0, "a response altered after signing is refused");
    await snap(page, "sso-forged");
    await post(saml.response);
    expect((await page.getByRole("heading").first().textContent()) === "Choose a role", "the roles on offer are listed");
    await snap(page, "sso-choose-role");
    await page.getByLabel(saml.roles["sso-viewer"]).check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    expect(new URL(page.url()).pathname === "/console", "the chosen role gets a console session");
    expect((await page.locator("#arn").textContent()).includes(":assumed-role/sso-viewer/ann@corp.example"), "the session is the assumed role");
    await snap(page, "sso-console");
    await page.getByRole("link", { name: "Users" }).click();
    await page.waitForLoadState();
    expect((await page.locator("#users").textContent()).includes("grace"), "the role's policy (ReadOnlyAccess) lets it list users");
    await page.getByLabel("User name").fill("intruder");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForLoadState();
    expect((await page.locator("#refusal").textContent()).includes("ram:CreateUser"), "but not create them");
    await snap(page, "sso-role-refused");
    // The response was spent: posting it again is refused.
    await post(saml.response);
    await page.getByRole("button", { name: "Sign in" }).click().catch(() => {});
    await page.waitForLoadState();
    expect((await page.locator("#sso-error").textContent()).includes("already used"), "a response gives one session");
    await snap(page, "sso-replayed");
    await context.close();
  }

  // 7. LoginNetworkMasks that exclude this address.
  {
    execFileSync(python, [new URL("./setup.py", import.meta.url).pathname, base.replace(/^http:\/\//, ""), bootstrap, "mask"]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "dave", setup.password);
    expect((await page.getByRole("alert").textContent()).includes("not allowed from your network"), "a sign-in from outside the masks is refused");
    await snap(page, "network-refused");
    await context.close();
  }
  console.log(`all passed; screenshots in ${artifacts}`);
} finally {
  await browser.close();
}
