// t/browser/e2e.mjs: the web app in headless Chromium against a real stack
// (nginx, parkd, Redis), driven by Playwright.  t/70-browser.t starts the
// stack, builds the web root into it and runs this script; it prints test
// points as "ok - NAME" / "not ok - NAME" / "ok - NAME # SKIP why" and
// "# diagnostics", which the wrapper numbers into TAP.
//
// Environment (set by t/70-browser.t):
//   PARKD_URL             http://127.0.0.1:PORT (nginx of the stack)
//   PARKD_ADMIN_EMAIL, PARKD_ADMIN_PASSWORD
//   PARKD_JWT_SECRET      to make an expired copy of a real access token
//   PARKCTL, PARKD_SETTINGS, PARKD_MAIL_DIR
//   PARKD_ARTIFACTS       where the screenshots go
//   CHROMIUM              the browser (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { createHmac, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const BASE = process.env.PARKD_URL;
const ORIGIN = new URL(BASE).origin;
const ADMIN = process.env.PARKD_ADMIN_EMAIL;
const ADMIN_PW = process.env.PARKD_ADMIN_PASSWORD;
const SECRET = process.env.PARKD_JWT_SECRET;
const ART = process.env.PARKD_ARTIFACTS;
const MAIL_DIR = process.env.PARKD_MAIL_DIR;
mkdirSync(ART, { recursive: true });

// ---- TAP-ish output ------------------------------------------------------------

let failures = 0;
function out(line) {
	process.stdout.write(line + "\n");
}
function diag(...lines) {
	for (const l of lines) for (const x of String(l).split("\n")) out("# " + x);
}
function ok(cond, name, ...why) {
	out((cond ? "ok - " : "not ok - ") + name.replace(/#/g, "\\#"));
	if (!cond) {
		failures++;
		diag(...why);
	}
	return !!cond;
}
function is(got, want, name) {
	return ok(got === want, name, "  got:  " + JSON.stringify(got),
	    "  want: " + JSON.stringify(want));
}
function like(got, re, name) {
	return ok(typeof got === "string" && re.test(got), name,
	    "  got:  " + JSON.stringify(got), "  want a match of: " + re);
}
function skip(name, why) {
	out("ok - " + name + " # SKIP " + why);
}

// ---- the browser and what it sends ----------------------------------------------------

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--headless", "--no-sandbox", "--disable-gpu",
	    "--disable-background-networking", "--disable-component-update",
	    "--disable-sync", "--disable-quic", "--no-first-run"],
});

const requests = []; // every request of every page: {who, url, method, auth}
const responses = []; // {who, url, method, status}
const problems = []; // page errors and CSP / Trusted Types violations
const contexts = [];

// who: a name for the context's requests.
async function newContext(who, opts = {}) {
	const ctx = await browser.newContext({ acceptDownloads: true,
	    viewport: { width: 1280, height: 860 }, ...opts });
	ctx.on("request", (r) => requests.push({ who, url: r.url(),
	    method: r.method(), auth: r.headers().authorization || null }));
	ctx.on("response", (r) => responses.push({ who, url: r.url(),
	    method: r.request().method(), status: r.status() }));
	ctx.on("page", (p) => watch(p));
	contexts.push(ctx);
	return ctx;
}

function watch(page) {
	page.on("pageerror", (e) => problems.push("page error: " + e.message));
	page.on("console", (m) => {
		const t = m.text();
		if (/Content.Security.Policy|Trusted ?Type|TrustedHTML|TrustedScript/i
		    .test(t)) problems.push("console: " + t);
	});
	page.on("dialog", (d) => d.accept());
}

async function newPage(ctx) {
	const p = await ctx.newPage();
	return p;
}

const shots = [];
async function shot(page, name, full = true) {
	const path = join(ART, name + ".png");
	await page.screenshot({ path, fullPage: full });
	shots.push(name + ".png");
}

async function view(page, name, timeout = 30000) {
	await page.waitForSelector(`html[data-view="${name}"]`, { timeout });
}

async function statusText(page) {
	return (await page.locator("#status").textContent()).trim();
}

// Every input, select and textarea of the page has a label.
async function unlabelled(page) {
	return page.evaluate(() => [...document.querySelectorAll(
	    "input:not([type=hidden]), select, textarea")]
	    .filter((el) => !(el.labels && el.labels.length) &&
		!el.getAttribute("aria-label") &&
		!el.getAttribute("aria-labelledby"))
	    .map((el) => el.name || el.id || el.outerHTML.slice(0, 80)));
}

async function labelsOk(page, where) {
	const bad = await unlabelled(page);
	ok(bad.length === 0, where + ": every form field has a label",
	    "  without one: " + bad.join(", "));
}

function countSince(list, i, pred) {
	return list.slice(i).filter(pred).length;
}

function isRefresh(r) {
	return new URL(r.url).pathname === "/api/auth/refresh";
}

// A copy of a real access token that expired a minute ago, signed with the
// stack's key: the server itself answers 401 TOKEN_EXPIRED to it.
function expiredCopy(token) {
	const [head, body] = token.split(".");
	const claims = JSON.parse(Buffer.from(body, "base64url").toString());
	const now = Math.floor(Date.now() / 1000);
	claims.iat = claims.nbf = claims.iat - 3600;
	claims.exp = now - 60;
	const b = Buffer.from(JSON.stringify(claims)).toString("base64url");
	const sig = createHmac("sha256", Buffer.from(SECRET))
	    .update(head + "." + b).digest("base64url");
	return head + "." + b + "." + sig;
}

function parkctl(...args) {
	return execFileSync(process.env.PARKCTL,
	    ["-c", process.env.PARKD_SETTINGS, ...args], {
		env: { PATH: process.env.PATH, HOME: process.env.HOME || "/",
		    LANG: process.env.LANG || "C.UTF-8" },
		encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
	});
}

async function apiCall(method, path, body, token) {
	const headers = { Accept: "application/json" };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	if (token) headers.Authorization = "Bearer " + token;
	const r = await fetch(BASE + path, { method, headers,
	    body: body === undefined ? undefined : JSON.stringify(body) });
	let json = null;
	try {
		json = await r.json();
	} catch {
		// not JSON
	}
	return { status: r.status, json };
}

// Quoted-printable (RFC 2045) to text.
function unQP(s) {
	return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g,
	    (_, x) => String.fromCharCode(parseInt(x, 16)));
}

const tag = randomBytes(3).toString("hex");
const driver = { username: "driver_" + tag, email: `driver_${tag}@example.com`,
    password: "Driver-pass-" + tag, phone: "+91 98765 43210" };
const lotName = "Test Lot " + tag;
const lotPin = "98" + String(parseInt(tag, 16) % 10000).padStart(4, "0");

async function run() {
	// ---- 1. the first page load ---------------------------------------------------------

	const loadCtx = await newContext("first load");
	{
		const page = await newPage(loadCtx);
		const t0 = performance.now();
		const resp = await page.goto(BASE + "/");
		await view(page, "login");
		const wall = performance.now() - t0;
		is(resp.status(), 200, "GET / in a browser answers 200");
		like(resp.headers()["content-type"] || "", /text\/html/,
		    "GET / in a browser is the app's HTML");
		const csp = resp.headers()["content-security-policy"] || "";
		ok(/default-src 'self'/.test(csp) && /script-src 'self'(;|$)/.test(csp) &&
		    !/unsafe-inline|unsafe-eval/.test(csp),
		    "the app's CSP is strict: default-src 'self', no inline script",
		    "  CSP: " + csp);
		const nav = await page.evaluate(() => {
			const n = performance.getEntriesByType("navigation")[0];
			const v = performance.getEntriesByName("parkd:view:login")[0];
			const res = performance.getEntriesByType("resource");
			return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
			    view: v ? v.startTime : null, files: res.length + 1,
			    bytes: res.reduce((a, r) => a + (r.transferSize || 0),
				n.transferSize || 0) };
		});
		diag(`page load on loopback (cold): DOMContentLoaded ${nav.dcl.toFixed(0)} ms, ` +
		    `load ${nav.load.toFixed(0)} ms, login view ready ${nav.view === null ?
			"?" : nav.view.toFixed(0)} ms, ${nav.files} files, ` +
		    `${(nav.bytes / 1024).toFixed(1)} KiB; measured from the test ${wall.toFixed(0)} ms`);
		ok(nav.view !== null, "the login view marks itself ready");
		await shot(page, "01-login", false);
		await labelsOk(page, "login");

		// Keyboard: the first Tab reaches the skip link, which moves to main.
		await page.keyboard.press("Tab");
		const first = await page.evaluate(() => document.activeElement.textContent);
		is(first, "Skip to content", "the first Tab stop is the skip link");
		const outline = await page.evaluate(() =>
		    getComputedStyle(document.activeElement).outlineStyle);
		ok(outline !== "none", "the focused link has a visible outline",
		    "  outline-style: " + outline);
		await page.keyboard.press("Enter");
		is(await page.evaluate(() => document.activeElement.id), "main",
		    "Enter on the skip link moves the focus to the content");
		await page.close();

		// Again in a new context (empty cache) now that the browser runs.
		const again = await newContext("second load");
		const p2 = await newPage(again);
		await p2.goto(BASE + "/");
		await view(p2, "login");
		const n2 = await p2.evaluate(() => {
			const n = performance.getEntriesByType("navigation")[0];
			const v = performance.getEntriesByName("parkd:view:login")[0];
			return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
			    view: v.startTime };
		});
		diag(`page load on loopback (new context, empty cache): ` +
		    `DOMContentLoaded ${n2.dcl.toFixed(0)} ms, load ` +
		    `${n2.load.toFixed(0)} ms, login view ready ${n2.view.toFixed(0)} ms`);
		ok(n2.view > 0, "the second load shows the login view");
		await again.close();
	}

	// ---- 2. the admin creates a lot ---------------------------------------------------------

	const adminCtx = await newContext("admin");
	const admin = await newPage(adminCtx);
	let lotId = null;
	{
		await admin.goto(BASE + "/admin");
		await view(admin, "login");
		like(admin.url(), /\/login\?next=%2Fadmin$/,
		    "an address that needs a login goes to the login, remembering it");
		await admin.getByLabel("Username or e-mail").fill(ADMIN);
		await admin.getByLabel("Password").fill("wrong password");
		await admin.getByRole("button", { name: "Log in" }).click();
		await admin.locator(".form-error:not([hidden])").waitFor();
		like(await admin.locator(".form-error").textContent(),
		    /Invalid username\/email or password/,
		    "a wrong password shows the API's error in the form");
		await admin.getByLabel("Password").fill(ADMIN_PW);
		await admin.getByRole("button", { name: "Log in" }).click();
		await view(admin, "dashboard");
		ok(true, "the admin logs in and lands on the dashboard");
		ok(await admin.locator("svg.chart rect.bar-rect").count() === 30,
		    "the dashboard draws 30 days of bookings as SVG bars");
		await shot(admin, "10-admin-dashboard");

		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Lots" }).click();
		await view(admin, "lots");
		await admin.getByText("Add a lot").click();
		await labelsOk(admin, "admin lots");
		const f = admin.locator("form.lot-form");
		await f.getByLabel("Name").fill(lotName);
		await f.getByLabel("PIN code").fill(lotPin);
		await f.getByLabel("Address").fill("1 Test Street, Testville");
		await f.getByLabel("Number of spots").fill("3");
		await f.getByLabel("Price per hour (₹)").fill("40");
		// The API's field errors land next to the field: hours come in pairs.
		await f.getByLabel("Opens at").fill("08:00");
		await f.getByRole("button", { name: "Create lot" }).click();
		const errs = f.locator(".field-error:not([hidden])");
		await errs.first().waitFor();
		const errText = (await errs.allTextContents()).join(" | ");
		like(errText, /(Opens at|Closes at)/,
		    "a validation error from the API is shown next to its field");
		ok(await f.locator("[aria-invalid=true]").count() >= 1,
		    "the field with the error is marked aria-invalid");
		await shot(admin, "11-admin-lot-form-error");
		await f.getByLabel("Opens at").fill("");
		await f.getByRole("button", { name: "Create lot" }).click();
		await view(admin, "lot");
		lotId = Number(admin.url().match(/\/admin\/lots\/(\d+)/)[1]);
		like(await statusText(admin), /Created .* with 3 spots/,
		    "creating a lot says so (aria-live status)");
		is(await admin.locator("ul.spots li.spot.free").count(), 3,
		    "the new lot's grid has 3 free spots");

		// A sample lot's settings show every field as it is.
		await admin.goto(BASE + "/admin/lots/1");
		await view(admin, "lot");
		const sf = admin.locator("form.lot-form");
		like(await sf.getByLabel("Description (optional)").inputValue(),
		    /\S/, "the edit form shows the lot's description");
		like(await sf.getByLabel("Opens at").inputValue(), /^\d\d:\d\d$/,
		    "the edit form shows the opening hours");
		await admin.goto(BASE + "/admin/lots/" + lotId);
		await view(admin, "lot");
	}

	// ---- 3. a driver registers, logs in, searches, books ---------------------------------------

	const drvCtx = await newContext("driver");
	const drv = await newPage(drvCtx);
	let bookedSpot = null;
	{
		await drv.goto(BASE + "/");
		await view(drv, "login");
		await drv.getByRole("link", { name: "Create an account" }).first().click();
		await view(drv, "register");
		await labelsOk(drv, "register");
		// A taken username and e-mail: 409 with details next to both fields.
		await drv.getByLabel("Username").fill("john_doe");
		await drv.getByLabel("E-mail").fill("john@example.com");
		await drv.getByLabel("Password").fill(driver.password);
		await drv.getByRole("button", { name: "Create account" }).click();
		await drv.locator(".field-error:not([hidden])").first().waitFor();
		const u = await drv.locator("[name=username] ~ .field-error").textContent();
		like(u, /already taken/, "registering a taken username: the error is " +
		    "next to the username field");
		await shot(drv, "02-register-taken");
		await drv.getByLabel("Username").fill(driver.username);
		await drv.getByLabel("E-mail").fill(driver.email);
		await drv.getByLabel("Phone (optional)").fill(driver.phone);
		await drv.getByRole("button", { name: "Create account" }).click();
		await view(drv, "login");
		like(await statusText(drv), /created/, "registration succeeds and says so");
		is(await drv.getByLabel("Username or e-mail").inputValue(), driver.username,
		    "the login form is filled with the new username");

		// Log in with the keyboard only.
		await drv.getByLabel("Password").focus();
		await drv.keyboard.type(driver.password);
		await drv.keyboard.press("Enter");
		await view(drv, "lots");
		ok(true, "the driver logs in (keyboard only) and sees the lots");
		const stored = await drv.evaluate(() => ({
			session: !!sessionStorage.getItem("parkd.refresh"),
			local: !!localStorage.getItem("parkd.refresh"),
		}));
		ok(stored.session && !stored.local, "without 'keep me logged in', the " +
		    "refresh token is in sessionStorage only", JSON.stringify(stored));
		await labelsOk(drv, "lots");

		// Search by name, by address, by PIN code.
		const search = drv.getByLabel("Search by name, address or PIN code");
		await search.fill(lotPin);
		let names = await drv.locator("article.lot h2").allTextContents();
		ok(names.length === 1 && names[0] === lotName,
		    "searching by PIN code finds only the new lot", "  found: " + names);
		await search.fill("testville");
		names = await drv.locator("article.lot h2").allTextContents();
		ok(names.length === 1 && names[0] === lotName,
		    "searching by address finds only the new lot", "  found: " + names);
		await search.fill(lotName.toLowerCase());
		names = await drv.locator("article.lot h2").allTextContents();
		ok(names.length === 1 && names[0] === lotName,
		    "searching by name finds the new lot", "  found: " + names);
		const card = drv.locator("article.lot", { has: drv.getByRole("heading",
		    { name: lotName }) });
		like(await card.textContent(), /3 of 3/, "the lot shows 3 of 3 spots free");
		await search.fill("");
		await shot(drv, "03-lots");
		await search.fill(lotName);

		await card.getByLabel("Vehicle number (optional)").fill("tn 09 xy 42");
		await card.getByRole("button", { name: "Book a spot" }).click();
		await view(drv, "parking");
		const st = await statusText(drv);
		like(st, new RegExp("Booked: spot 1 at " + lotName),
		    "booking says which spot was given");
		const active = drv.locator("article.active");
		like(await active.locator("h2").textContent(),
		    new RegExp("Spot 1 · " + lotName), "the active booking names spot 1");
		bookedSpot = 1;
		like(await active.textContent(), /TN09XY42/,
		    "the vehicle number is shown as stored (upper case, no spaces)");
		const d1 = await active.locator(".meters .mono").textContent();
		await drv.waitForTimeout(2100);
		const d2 = await active.locator(".meters .mono").textContent();
		ok(d1 !== d2 && /^\d+:\d\d:\d\d$/.test(d2),
		    "the running duration updates live", "  " + d1 + " then " + d2);
		like(await active.textContent(), /Cost so far₹40\.00/,
		    "the cost so far is the hourly rate for the first started hour");
		await shot(drv, "04-parking-active");

		// A reload keeps the session: one refresh, then the view.
		const r0 = requests.length;
		await drv.reload();
		await view(drv, "parking");
		is(countSince(requests, r0, (r) => r.who === "driver" &&
		    isRefresh(r)), 1,
		    "a reload restores the session with exactly one refresh");
		const ready = await drv.evaluate(() => performance.getEntriesByName(
		    "parkd:view:parking")[0].startTime);
		diag(`page load on loopback (logged in, reload of /parking: files, ` +
		    `one refresh, the summary): view ready ${ready.toFixed(0)} ms`);
	}

	// ---- 4. the admin sees the booked spot, resizes, cannot delete ---------------------------------------

	{
		await admin.reload();
		await view(admin, "lot");
		const spot = admin.locator(`ul.spots li[data-spot="${bookedSpot}"]`);
		like(await spot.getAttribute("class") || "", /occ/,
		    "the admin's grid shows the booked spot as occupied");
		const txt = await spot.textContent();
		ok(txt.includes(driver.username) && txt.includes("TN09XY42"),
		    "the grid says who is parked there, with the vehicle", "  " + txt);
		await shot(admin, "12-admin-lot-grid");

		const f = admin.locator("form.lot-form");
		await f.getByLabel("Number of spots").fill("6");
		await f.getByRole("button", { name: "Save changes" }).click();
		await admin.waitForFunction(() =>
		    document.querySelectorAll("ul.spots li.spot").length === 6);
		like(await statusText(admin), /6 spots/, "growing the lot to 6 spots");
		is(await admin.locator("ul.spots li.spot.occ").count(), 1,
		    "after the resize the booked spot is still occupied");

		// john_doe (sample data) takes spot 2: shrinking to 1 spot would
		// remove an occupied spot, and the 409 lands at the field.
		const jl = await apiCall("POST", "/api/auth/login",
		    { username: "john_doe", password: "password123" });
		const jt = jl.json && jl.json.data && jl.json.data.access_token;
		const jb = await apiCall("POST", "/api/user/pkl/book/" + lotId, {}, jt);
		is(jb.json && jb.json.data && jb.json.data.spot_number, 2,
		    "a second driver gets spot 2");
		await f.getByLabel("Number of spots").fill("1");
		await f.getByRole("button", { name: "Save changes" }).click();
		const nerr = f.locator("[name=number_of_spots] ~ .field-error");
		await nerr.waitFor();
		like(await nerr.textContent(), /Number of spots:? .*occupied/,
		    "shrinking over an occupied spot: the 409 reason is at the field");
		like(await f.locator(".form-error").textContent(), /\S/,
		    "and the form says why it failed");
		await shot(admin, "13-admin-resize-refused");
		const jr = await apiCall("POST", "/api/user/pkl/release", {}, jt);
		is(jr.status, 200, "the second driver releases spot 2");
		await apiCall("POST", "/api/auth/logout", undefined, jt);

		await f.getByLabel("Number of spots").fill("2");
		await f.getByRole("button", { name: "Save changes" }).click();
		await admin.waitForFunction(() =>
		    document.querySelectorAll("ul.spots li.spot").length === 2);
		ok(true, "shrinking to 2 spots removes free spots 3 to 6");

		await admin.getByRole("button", { name: "Delete lot" }).click();
		await admin.waitForSelector("#status.error");
		like(await statusText(admin), /Cannot delete .*occupied/i,
		    "deleting a lot with a parked car shows the 409 reason");
		await shot(admin, "14-admin-delete-refused");
	}

	// ---- 5. the driver releases and sees the cost; history with paging ------------------------------

	{
		await drv.locator("article.active").getByRole("button",
		    { name: "Release spot" }).click();
		await drv.locator(".receipt").waitFor();
		like(await drv.locator(".receipt .final-cost").textContent(), /₹40\.00/,
		    "releasing shows the final cost (1 started hour at 40)");
		like(await statusText(drv), /released\. Final cost ₹40\.00/,
		    "the release is announced with its cost");
		await shot(drv, "05-parking-released");

		// 11 more completed bookings through the API, for a second page.
		const login = await apiCall("POST", "/api/auth/login",
		    { username: driver.username, password: driver.password });
		const tok = login.json.data.access_token;
		let made = 0;
		for (let i = 0; i < 11; i++) {
			const b = await apiCall("POST", "/api/user/pkl/book/" + lotId, {}, tok);
			const r = await apiCall("POST", "/api/user/pkl/release", {}, tok);
			if (b.status === 200 && r.status === 200) made++;
		}
		is(made, 11, "11 more bookings made and released through the API");
		await apiCall("POST", "/api/auth/logout", undefined, tok);

		await drv.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "History" }).click();
		await view(drv, "bookings");
		await labelsOk(drv, "history");
		is(await drv.locator(".table-wrap tbody tr").count(), 10,
		    "history shows a page of 10");
		like(await drv.locator(".pager .count").textContent(), /1–10 of 12/,
		    "the pager counts X-Total-Count");
		await shot(drv, "06-history");
		await drv.locator(".pager").getByRole("button", { name: "Next" }).click();
		await view(drv, "bookings");
		like(await drv.locator(".pager .count").textContent(), /11–12 of 12/,
		    "the next page shows the rest");
		ok(/offset=10/.test(drv.url()), "the page is in the address (reload, back)");
		await drv.goBack();
		await view(drv, "bookings");
		like(await drv.locator(".pager .count").textContent(), /1–10 of 12/,
		    "Back returns to the first page");
	}

	// ---- 5b. reserve ahead: a window, the lots' free places, reserve,
	// the admin's timeline, cancel (issue #16) ---------------------------

	{
		await drv.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Reserve ahead" }).click();
		await view(drv, "reserve");
		await labelsOk(drv, "reserve");
		const tomorrow = await drv.evaluate(() => {
			const d = new Date(Date.now() + 86400000);
			return d.getFullYear() + "-" +
			    String(d.getMonth() + 1).padStart(2, "0") + "-" +
			    String(d.getDate()).padStart(2, "0");
		});
		const wf = drv.locator("form.window");
		await wf.getByLabel("Day").fill(tomorrow);
		await wf.getByLabel("From").selectOption("10:00");
		await wf.getByLabel("Until").selectOption("12:15");
		ok((await wf.getByLabel("From").locator("option").count()) === 96,
		    "the window is chosen in 15-minute steps (96 a day)");
		await wf.getByRole("button", { name: "Show free places" }).click();
		const card = drv.locator("article.lot", { hasText: lotName });
		await card.waitFor();
		const fw = (await card.textContent()).match(
		    /Free for your window\s*(\d+) of (\d+)/);
		ok(fw && fw[1] === fw[2] && Number(fw[1]) > 0,
		    "each lot shows its free places for the window (all of them)",
		    "  " + (fw ? fw[0] : "none"));
		await card.locator(".slots span").first().waitFor();
		is(await card.locator(".slots span").count(), 96,
		    "the day's slots are drawn as a bar chart (96 bars)");
		is(await card.locator(".slots span.pick").count(), 9,
		    "the window's 9 slots are marked in it");
		await card.getByRole("button", { name: "Reserve" }).click();
		await drv.waitForFunction(() => /Reserved: spot/.test(
		    document.getElementById("status").textContent));
		const up = drv.locator("article.upcoming");
		await up.first().waitFor();
		is(await up.count(), 1, "the reservation is listed as upcoming");
		like(await up.first().locator(".countdown").textContent(),
		    /^(1d )?\d+:\d\d:\d\d$/, "with a countdown to its start");
		ok(await up.first().getByRole("button", { name: "Check in" })
		    .isDisabled(), "check-in waits for 15 minutes before the start");
		await shot(drv, "05b-reserve");

		// the admin's timeline of that day shows it on its spot
		await admin.goto(BASE + "/admin/lots/" + lotId);
		await view(admin, "lot");
		await admin.locator("#tl-date").fill(tomorrow);
		await admin.locator("#tl-date").dispatchEvent("change");
		const iv = admin.locator(".tl .iv.reserved");
		await iv.first().waitFor();
		like(await iv.first().textContent(), new RegExp(driver.username +
		    " reserved"), "the admin's day timeline shows who reserved");
		await shot(admin, "12-admin-timeline");

		await up.first().getByRole("button", { name: "Cancel" }).click();
		await drv.waitForFunction(() => /Reservation cancelled/.test(
		    document.getElementById("status").textContent));
		await drv.locator("li.empty", { hasText: "No upcoming" }).waitFor();
		ok(true, "cancelling it empties the upcoming list");
		await drv.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "History" }).click();
		await view(drv, "bookings");
	}

	// ---- 6. export: progress, download, e-mailed link ---------------------------------------

	{
		const probe = await apiCall("POST", "/api/user/export-csv", {});
		if (probe.status === 404) {
			const why = "the export routes are not in this parkd yet " +
			    "(POST /api/user/export-csv answers 404)";
			for (const n of ["export shows its progress", "export: the file " +
			    "downloads with the owner's token", "export: the e-mail " +
			    "carries a link", "export: the e-mailed link downloads " +
			    "without a login"]) skip(n, why);
		} else {
			await drv.getByRole("button", { name: "Export to CSV" }).click();
			const state = drv.locator(".export-state");
			await drv.waitForFunction(() => /Waiting|Writing|Ready/.test(
			    document.querySelector(".export-state")?.textContent || ""));
			ok(await drv.locator("progress#export-progress").isVisible(),
			    "export shows its progress");
			diag("export state before the job ran: " + await state.textContent());
			await shot(drv, "07-export-pending");
			let out = "";
			try {
				out = parkctl("exports");
			} catch (e) {
				out = "parkctl exports failed: " + (e.stderr || e.message);
			}
			diag("parkctl exports: " + out.trim());
			const dlBtn = drv.getByRole("button", { name: /^Download / });
			await dlBtn.waitFor({ timeout: 15000 });
			like(await state.textContent(), /Ready/, "the export reaches Ready");
			await shot(drv, "08-export-ready");
			const [dl] = await Promise.all([drv.waitForEvent("download"),
			    dlBtn.click()]);
			const csv = readFileSync(await dl.path(), "utf8");
			ok(csv.startsWith("reservation_id,") && csv.split("\r\n").length >= 13,
			    "export: the file downloads with the owner's token",
			    "  " + dl.suggestedFilename() + ": " + csv.slice(0, 120));
			like(dl.suggestedFilename(), /\.csv$/, "the download is named .csv");

			try {
				out = parkctl("mail");
			} catch (e) {
				out = "parkctl mail failed: " + (e.stderr || e.message);
			}
			diag("parkctl mail: " + out.trim());
			const emls = readdirSync(MAIL_DIR).filter((f) => f.endsWith(".eml"));
			let link = null;
			for (const f of emls) {
				const text = unQP(readFileSync(join(MAIL_DIR, f), "utf8"));
				if (!text.includes(driver.email)) continue;
				const m = text.match(/https?:\/\/[^\s"<>]+\/api\/user\/download-csv\/[^\s"<>]+/);
				if (m) link = m[0].replace(/&amp;/g, "&");
			}
			ok(link !== null, "export: the e-mail carries a link",
			    "  .eml files: " + emls.join(", "));
			if (link) {
				ok(link.startsWith(ORIGIN + "/"), "the e-mailed link points at " +
				    "this site", "  " + link.replace(/token=.*/, "token=..."));
				// A browser with no session at all opens the link.
				const anon = await newContext("e-mail link");
				const p = await newPage(anon);
				const dlP = p.waitForEvent("download");
				await p.goto(link).catch(() => {});
				const d2 = await dlP;
				const csv2 = readFileSync(await d2.path(), "utf8");
				ok(csv2 === csv, "export: the e-mailed link downloads without " +
				    "a login");
				await anon.close();
			}
		}
	}

	// ---- 7. profile and password ----------------------------------------------------------

	{
		await drv.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Profile" }).click();
		await view(drv, "profile");
		await labelsOk(drv, "profile");
		const acct = drv.locator("form", { has: drv.getByRole("heading",
		    { name: "Account" }) });
		is(await acct.getByLabel("Phone").inputValue(), "+919876543210",
		    "the profile shows the phone as stored");
		await acct.getByLabel("Phone").fill("12");
		await acct.getByRole("button", { name: "Save changes" }).click();
		await acct.locator(".field-error:not([hidden])").waitFor();
		like(await acct.locator(".field-error:not([hidden])").textContent(),
		    /Phone/, "a bad phone number: the error is next to the phone field");
		await acct.getByLabel("Phone").fill("+1 555 010 9999");
		await acct.getByRole("button", { name: "Save changes" }).click();
		await drv.waitForFunction(() => /saved/.test(
		    document.getElementById("status").textContent));
		ok(true, "the profile saves a new phone number");

		const pw = drv.locator("form", { has: drv.getByRole("heading",
		    { name: "Password" }) });
		await pw.getByLabel("Current password").fill("not the password");
		await pw.getByLabel("New password", { exact: true }).fill("New-pass-" + tag);
		await pw.getByLabel("New password again").fill("New-pass-" + tag);
		await pw.getByRole("button", { name: "Change password" }).click();
		await pw.locator(".field-error:not([hidden])").waitFor();
		like(await pw.locator(".field-error:not([hidden])").textContent(),
		    /incorrect/, "a wrong current password is shown at its field");
		await pw.getByLabel("Current password").fill(driver.password);
		await pw.getByRole("button", { name: "Change password" }).click();
		await drv.waitForFunction(() => /Password changed/.test(
		    document.getElementById("status").textContent));
		ok(true, "the password change succeeds");
		driver.password = "New-pass-" + tag;
		await shot(drv, "09-profile");
	}

	// ---- 8. the token refresh path -------------------------------------------------------------
	//
	// The admin's current access token is made to expire: every request that
	// carries it has it swapped for a copy that expired a minute ago, signed
	// with the stack's key, so parkd itself answers 401 TOKEN_EXPIRED.  The
	// reservations view loads two things at once: both fail together, and the
	// app must refresh exactly once and retry both.

	{
		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Users" }).click();
		await view(admin, "users");
		const last = requests.filter((r) => r.who === "admin" && r.auth &&
		    r.url.startsWith(ORIGIN) && !isRefresh(r)).pop();
		const current = last.auth.slice("Bearer ".length);
		const expired = expiredCopy(current);
		let swapped = 0;
		await adminCtx.route(ORIGIN + "/api/**", (route) => {
			const rq = route.request();
			if (rq.headers().authorization === "Bearer " + current) {
				swapped++;
				return route.continue({ headers: { ...rq.headers(),
				    authorization: "Bearer " + expired } });
			}
			return route.continue();
		});
		const r0 = requests.length, s0 = responses.length;
		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Reservations" }).click();
		await view(admin, "reservations");
		const expiredAnswers = countSince(responses, s0, (r) =>
	    r.who === "admin" && r.status === 401);
		ok(swapped >= 2, "two requests went out at once with the expired token",
		    "  swapped: " + swapped);
		is(expiredAnswers, swapped, "parkd answered 401 to each of them");
		is(countSince(requests, r0, (r) => r.who === "admin" && isRefresh(r)),
		    1, "the app refreshed exactly once for both");
		const after = requests.slice(r0).filter((r) => r.who === "admin" &&
		    r.auth && !isRefresh(r) && r.auth !== "Bearer " + current);
		ok(after.length >= 2, "both calls were retried with the new token");
		ok(await admin.locator(".table-wrap table").count() === 1,
		    "the reservations view loaded after the refresh");
		await adminCtx.unroute(ORIGIN + "/api/**");
		await labelsOk(admin, "reservations");
		await shot(admin, "15-admin-reservations");

		// Filters: the new lot only.
		await admin.getByLabel("Lot").selectOption({ label: lotName });
		await admin.getByRole("button", { name: "Filter" }).click();
		await admin.waitForURL(/lot_id=/);
		await view(admin, "reservations");
		// 13 bookings and the reservation made ahead and cancelled (5b)
		like(await admin.locator(".pager .count").textContent(), /of 14$/,
		    "filtering by lot counts its 14 reservations");
	}

	// ---- 9. the admin deactivates the driver ------------------------------------------------------

	{
		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Users" }).click();
		await view(admin, "users");
		await admin.getByLabel("Search by username or e-mail").fill(driver.username);
		await admin.getByRole("button", { name: "Search" }).click();
		await admin.waitForURL(/q=/);
		await view(admin, "users");
		const rows = admin.locator(".table-wrap tbody tr");
		is(await rows.count(), 1, "searching users by name finds the driver");
		await rows.first().getByRole("button", { name: "Deactivate " +
		    driver.username }).click();
		await rows.first().getByText("inactive").waitFor();
		like(await statusText(admin), /deactivated/, "the admin deactivates the driver");
		await shot(admin, "16-admin-users");

		// The driver's session ends at its next request.
		await drv.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "My parking" }).click();
		await view(drv, "login");
		like(await statusText(drv), /session has ended/,
		    "the deactivated driver is sent to the login page");
		await drv.getByLabel("Username or e-mail").fill(driver.username);
		await drv.getByLabel("Password").fill(driver.password);
		await drv.getByRole("button", { name: "Log in" }).click();
		await drv.locator(".form-error:not([hidden])").waitFor();
		like(await drv.locator(".form-error").textContent(), /deactivated|inactive/i,
		    "a deactivated account cannot log in and is told why");

		await rows.first().getByRole("button", { name: "Activate " +
		    driver.username }).click();
		await rows.first().getByText("active", { exact: true }).waitFor();
		ok(true, "the admin activates the driver again");
	}

	// The dashboard now that there were bookings.
	{
		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Dashboard" }).click();
		await view(admin, "dashboard");
		like(await admin.locator("svg.chart desc").textContent(),
		    /^1[3-9] bookings in 30 days/,
		    "the dashboard's chart counts today's bookings");
		await shot(admin, "17-admin-dashboard-after");

		// The lot is empty now: deleting it works (it has history, so it
		// is kept as such) and it leaves the list.
		await admin.getByRole("navigation", { name: "Main" })
		    .getByRole("link", { name: "Lots" }).click();
		await view(admin, "lots");
		await admin.getByRole("button", { name: "Delete " + lotName }).click();
		await admin.waitForFunction(() => /Deleted/.test(
		    document.getElementById("status").textContent));
		await view(admin, "lots");
		is(await admin.getByRole("link", { name: lotName, exact: true })
		    .count(), 0, "the admin deletes the empty lot and it leaves the list");
	}

	// ---- 10. logout --------------------------------------------------------------------

	{
		const r0 = requests.length;
		await admin.getByRole("button", { name: "Log out" }).click();
		await view(admin, "login");
		is(countSince(requests, r0, (r) => r.who === "admin" &&
		    new URL(r.url).pathname === "/api/auth/logout" &&
		    r.method === "POST"), 1,
		    "logging out calls POST /api/auth/logout");
		is(await admin.evaluate(() => sessionStorage.getItem("parkd.refresh")),
		    null, "logging out forgets the refresh token");
		await admin.goto(BASE + "/admin");
		await view(admin, "login");
		ok(true, "after logout the admin pages ask for a login again");
	}

	// ---- 11. a phone-sized screen ---------------------------------------------------------------

	{
		const phone = await newContext("phone", { viewport: { width: 390, height: 844 },
		    isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
		const p = await newPage(phone);
		await p.goto(BASE + "/login");
		await view(p, "login");
		await p.getByLabel("Username or e-mail").fill(driver.username);
		await p.getByLabel("Password").fill(driver.password);
		await p.getByLabel("Keep me logged in on this device").check();
		await p.getByRole("button", { name: "Log in" }).click();
		await view(p, "lots");
		const st = await p.evaluate(() => ({
			session: !!sessionStorage.getItem("parkd.refresh"),
			local: !!localStorage.getItem("parkd.refresh"),
		}));
		ok(st.local && !st.session, "with 'keep me logged in', the refresh " +
		    "token is in localStorage", JSON.stringify(st));
		const wide = await p.evaluate(() =>
		    document.documentElement.scrollWidth - window.innerWidth);
		ok(wide <= 0, "the lots page fits a 390 px wide screen",
		    "  overflow: " + wide + " px");
		await shot(p, "20-phone-lots", false);
		await p.goto(BASE + "/history");
		await view(p, "bookings");
		const wide2 = await p.evaluate(() =>
		    document.documentElement.scrollWidth - window.innerWidth);
		ok(wide2 <= 0, "the history page fits a 390 px wide screen (its table " +
		    "scrolls in its own box)", "  overflow: " + wide2 + " px");
		await shot(p, "21-phone-history", false);
		await phone.close();
	}

	// ---- 12. the API docs ------------------------------------------------------------------

	{
		const ctx = await newContext("docs");
		const p = await newPage(ctx);
		const resp = await p.goto(BASE + "/api/docs");
		is(resp.status(), 200, "/api/docs answers 200");
		like(resp.headers()["content-type"] || "", /text\/html/,
		    "/api/docs is a page, not parkd's JSON");
		await p.waitForSelector(".opblock", { timeout: 15000 });
		const ops = await p.locator(".opblock").count();
		ok(ops >= 25, "/api/docs lists the API's operations", "  " + ops);
		await shot(p, "30-api-docs", false);
		// "Try it out" calls this server, whatever the file's servers say.
		const op = p.locator("#operations-system-sys_health");
		await op.locator(".opblock-summary").first().click();
		await op.getByRole("button", { name: "Try it out" }).click();
		await op.getByRole("button", { name: "Execute" }).click();
		const code = op.locator(".live-responses-table tbody .response-col_status");
		await code.first().waitFor({ timeout: 15000 });
		like((await code.first().textContent()).trim(), /^200/,
		    "/api/docs: Try it out on GET /api/health gets 200 from this server");
		await ctx.close();
	}

	// ---- 12b. a forgotten password: forgot, e-mail, reset (issue #20) --------------------

	{
		const who = { username: "forgetful_" + tag,
		    email: `forgetful_${tag}@example.com`,
		    password: "Forgot-pass-" + tag, next: "Reset-pass-" + tag };
		let r = await apiCall("POST", "/api/auth/register", {
			username: who.username, email: who.email,
			password: who.password });
		is(r.status, 200, "recovery: a user registers (API)");
		r = await apiCall("POST", "/api/auth/login", { username: who.email,
			password: who.password });
		const oldAccess = r.json && r.json.data ? r.json.data.access_token : "";
		const ctx = await newContext("recovery");
		let p = await newPage(ctx);
		const seenBefore = requests.length;
		await p.goto(BASE + "/login");
		await view(p, "login");
		await p.getByRole("link", { name: "Forgot password?" }).click();
		await view(p, "forgotPassword");
		await labelsOk(p, "forgot password");
		await p.getByLabel("E-mail").fill(who.email);
		await p.getByRole("button", { name: "Send me a link" }).click();
		const notice = p.locator("p.notice:not([hidden])");
		await notice.waitFor();
		like(await notice.textContent(), /If an account has this address/,
		    "recovery: the page says a link is sent, as for any address");
		await shot(p, "40-forgot-sent");

		let out;
		try {
			out = parkctl("mail");
		} catch (e) {
			out = "parkctl mail failed: " + (e.stderr || e.message);
		}
		diag("parkctl mail: " + out.trim());
		let link = null;
		for (const f of readdirSync(MAIL_DIR).filter((x) => x.endsWith(".eml"))) {
			const text = unQP(readFileSync(join(MAIL_DIR, f), "utf8"));
			if (!text.includes("To: " + who.email)) continue;
			const m = text.match(/https?:\/\/[^\s"<>]+\/reset-password#token=[A-Za-z0-9_-]{43}/);
			if (m) link = m[0];
		}
		ok(link !== null && link.startsWith(ORIGIN + "/reset-password#"),
		    "recovery: the e-mail links to this site's reset page",
		    "  " + String(link).replace(/token=.*/, "token=..."));
		if (link) {
			const token = link.split("#token=")[1];
			await p.goto(link);
			await view(p, "resetPassword");
			ok(!p.url().includes(token), "recovery: the page takes the " +
			    "token out of the address bar", "  " + p.url().length);
			await labelsOk(p, "reset password");
			await p.getByLabel("New password", { exact: true }).fill(who.next);
			await p.getByLabel("New password again").fill(who.next);
			await p.getByRole("button", { name: "Set the new password" }).click();
			await view(p, "login");
			like(await statusText(p), /password is changed/,
			    "recovery: after the reset, the login page says so");
			await p.getByLabel("Username or e-mail").fill(who.email);
			await p.getByLabel("Password").fill(who.password);
			await p.getByRole("button", { name: "Log in" }).click();
			const bad = p.locator(".form-error:not([hidden])");
			await bad.waitFor();
			like(await bad.textContent(), /Invalid username\/email or password/,
			    "recovery: the old password is refused in the browser");
			await p.getByLabel("Password").fill(who.next);
			await p.getByRole("button", { name: "Log in" }).click();
			await view(p, "lots");
			ok(true, "recovery: the new password logs in");
			r = await apiCall("GET", "/api/auth/me", undefined, oldAccess);
			is(r.status, 401, "recovery: a session from before the reset " +
			    "is over");

			// The profile shows the address as verified now (the link
			// proved it); a second use of the link is refused.
			await p.goto(BASE + "/profile");
			await view(p, "profile");
			is(await p.locator("[data-testid=unverified]").count(), 0,
			    "recovery: after a reset by e-mail, no 'not verified' notice");
			const p2 = await newPage(ctx);
			await p2.goto(link);
			await view(p2, "resetPassword");
			await p2.getByLabel("New password", { exact: true }).fill("Another-pw-1");
			await p2.getByLabel("New password again").fill("Another-pw-1");
			await p2.getByRole("button", { name: "Set the new password" }).click();
			const err = p2.locator(".form-error:not([hidden])");
			await err.waitFor();
			like(await err.textContent(), /expired or was used already/,
			    "recovery: the link a second time: refused, with a way on");
			await shot(p2, "41-reset-link-used");
			const leaked = requests.slice(seenBefore).filter((x) =>
			    x.url.includes(token));
			ok(leaked.length === 0, "recovery: no request carried the token " +
			    "in its URL (it travels in a JSON body)",
			    ...leaked.map((x) => "  " + x.method + " " +
				x.url.replace(token, "<token>")));
		}

		// Another user, unverified: the profile's notice and "send again".
		const v = { username: "unverified_" + tag,
		    email: `unverified_${tag}@example.com`, password: "Unver-pass-" + tag };
		await apiCall("POST", "/api/auth/register", v);
		await ctx.close();
		const ctx2 = await newContext("unverified");
		p = await newPage(ctx2);
		await p.goto(BASE + "/login");
		await view(p, "login");
		await p.getByLabel("Username or e-mail").fill(v.email);
		await p.getByLabel("Password").fill(v.password);
		await p.getByRole("button", { name: "Log in" }).click();
		await view(p, "lots");
		await p.goto(BASE + "/profile");
		await view(p, "profile");
		const box = p.locator("[data-testid=unverified]");
		like(await box.textContent(), /not verified/,
		    "profile: an unverified address shows a notice");
		await box.getByRole("button", { name: "Send the link again" }).click();
		await p.waitForFunction(() =>
		    /Verification e-mail sent/.test(document.getElementById("status")
			.textContent));
		ok(true, "profile: 'send again' sends a new link");
		await shot(p, "42-profile-unverified");
		await ctx2.close();
	}
}

// ---- 13. what the pages sent ----------------------------------------------------------------

try {
	await run();
} catch (e) {
	ok(false, "the browser steps ran without an exception",
	    String(e && e.stack || e));
	let n = 0;
	for (const c of contexts) {
		for (const p of c.pages()) {
			await p.screenshot({ path: join(ART, "failed-" + ++n + ".png"),
			    fullPage: true }).catch(() => {});
			diag("failed-" + n + ".png: " + p.url());
		}
	}
} finally {
	for (const c of contexts) await c.close().catch(() => {});
	await browser.close().catch(() => {});
}

{
	const foreign = requests.filter((r) => {
		if (r.url.startsWith("data:")) return false;
		if (r.url.startsWith("blob:")) return !r.url.startsWith("blob:" + ORIGIN);
		return new URL(r.url).origin !== ORIGIN;
	});
	ok(foreign.length === 0, "no request from any page went anywhere but " +
	    "the page's own origin (" + requests.length + " requests)",
	    ...foreign.slice(0, 20).map((r) => "  " + r.method + " " + r.url));
	ok(problems.length === 0, "no page error and no CSP or Trusted Types " +
	    "violation", ...problems.slice(0, 20).map((x) => "  " + x));
	diag("screenshots in " + ART + ": " + shots.join(" "));
}

out("# e2e: done");
process.exit(failures ? 1 : 0);
