// api.js: every call to parkd's API, and the login session.
//
// Tokens: the access token lives in this module's memory only; the refresh
// token in sessionStorage (this tab, until it closes), or in localStorage
// after a login with "Keep me logged in" (remember_me: it survives the
// browser's restart and is shared by the site's tabs).  Either storage can
// be read by any script running on the page, so an XSS hole would leak the
// refresh token: the mitigation is the strict Content-Security-Policy
// (scripts from this origin only, no inline script, no eval, Trusted Types)
// and an app that never turns data into HTML.  The refresh token rotates on
// every use and the server revokes the whole session when a used one comes
// back, so a stolen copy ends the thief's and the owner's session as soon
// as both use it.
//
// Refresh: a 401 TOKEN_EXPIRED or UNAUTHENTICATED answer to a call makes
// ONE refresh and ONE retry.  Calls that fail together share one refresh (a
// single promise in flight), and a call whose token was already replaced
// while it ran retries without refreshing again: two refreshes with one
// refresh token would look like token theft to the server.  Across tabs
// (localStorage), a Web Lock serialises refreshes and each re-reads the
// stored token first.

const KEY = "parkd.refresh";
const LOCK = "parkd-refresh";

let access = null; // the access token: memory only
let user = null; // the user object of the session
let store = null; // the Storage that holds the refresh token
let refreshing = null; // the refresh in flight, shared by every caller
let skewMs = 0; // server clock minus ours, when they differ by more than 2 s
const listeners = new Set();

export class ApiError extends Error {
	constructor(status, code, message, details, retryAfter) {
		super(message);
		this.name = "ApiError";
		this.status = status;
		this.code = code;
		this.details = details || null;
		this.retryAfter = retryAfter || null;
	}
}

function storages() {
	const list = [];
	for (const name of ["sessionStorage", "localStorage"]) {
		try {
			if (window[name]) list.push(window[name]);
		} catch {
			// storage blocked by the browser's settings
		}
	}
	return list;
}

function stored() {
	for (const s of storages()) {
		const t = s.getItem(KEY);
		if (t) return [s, t];
	}
	return [null, null];
}

function keep(s, refresh) {
	for (const other of storages()) {
		if (other !== s) other.removeItem(KEY);
	}
	store = s;
	if (s) s.setItem(KEY, refresh);
}

function notify(reason) {
	for (const fn of listeners) fn(user, reason);
}

/* onSession(fn): fn(user, reason) runs when the session starts or ends
 * ("login", "refresh", "logout", "expired"). */
export function onSession(fn) {
	listeners.add(fn);
}

export function currentUser() {
	return user;
}

/* now(): the server's time in milliseconds, as well as we know it. */
export function now() {
	return Date.now() + skewMs;
}

function endSession(reason) {
	const had = user !== null || access !== null;
	access = null;
	user = null;
	refreshing = null;
	for (const s of storages()) s.removeItem(KEY);
	store = null;
	if (had || reason === "expired") notify(reason);
}

function query(q) {
	if (!q) return "";
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(q)) {
		if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
	}
	const s = p.toString();
	return s ? "?" + s : "";
}

// One request; never throws for an HTTP status, only for the network.
async function send(method, url, body, token) {
	const headers = { Accept: "application/json" };
	if (token) headers.Authorization = "Bearer " + token;
	const init = { method, headers, cache: "no-store", credentials: "omit" };
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(url, init);
	} catch {
		throw new ApiError(0, "NETWORK", "Cannot reach the server. " +
		    "Check the connection and try again.");
	}
	const date = Date.parse(res.headers.get("Date") || "");
	if (!Number.isNaN(date)) {
		const d = date - Date.now();
		skewMs = Math.abs(d) > 2000 ? d : 0;
	}
	return res;
}

async function readJson(res) {
	const type = res.headers.get("Content-Type") || "";
	if (!type.includes("json")) return null;
	try {
		return await res.json();
	} catch {
		return null;
	}
}

function errorOf(res, json) {
	const ra = res.headers.get("Retry-After");
	let msg = json && json.error ? json.error :
	    "The server answered " + res.status + " " + (res.statusText || "");
	if (res.status === 429 && ra) msg += " (try again in " + ra + " s)";
	return new ApiError(res.status, json && json.code ? json.code : "HTTP",
	    msg.trim(), json && json.details, ra);
}

function sessionEnded() {
	return new ApiError(401, "SESSION_ENDED",
	    "Your session has ended. Please log in again.");
}

async function doRefresh() {
	const run = async () => {
		// Re-read: another tab may have rotated a shared token meanwhile.
		const [s, token] = stored();
		if (!token) throw sessionEnded();
		const res = await send("POST", "/api/auth/refresh", undefined,
		    token);
		const json = await readJson(res);
		if (!res.ok || !json || !json.data) {
			if (res.status === 401 || res.status === 403) {
				endSession("expired");
				throw sessionEnded();
			}
			throw errorOf(res, json);
		}
		access = json.data.access_token;
		user = json.data.user;
		keep(s, json.data.refresh_token);
		return user;
	};
	if (navigator.locks && store === window.localStorage)
		return navigator.locks.request(LOCK, run);
	return run();
}

/* refresh(): the one refresh in flight, started if there is none. */
export function refresh() {
	if (!refreshing) {
		const p = doRefresh();
		refreshing = p;
		p.then(() => notify("refresh"), () => {}).finally(() => {
			if (refreshing === p) refreshing = null;
		});
	}
	return refreshing;
}

/*
 * api(method, path, {body, query, auth = true, raw = false}): calls the API.
 * Resolves to {data, message, total} (total: X-Total-Count, or null), or
 * with raw to the Response itself (downloads).  Rejects with an ApiError
 * carrying the envelope's error, code and details.
 */
export async function api(method, path, opts = {}) {
	const { body, auth = true, raw = false } = opts;
	const url = path + query(opts.query);
	if (auth && !access) {
		if (!stored()[1]) throw sessionEnded();
		await refresh();
	}
	let used = auth ? access : null;
	let res = await send(method, url, body, used);
	if (auth && res.status === 401) {
		const json = await readJson(res.clone());
		const code = json && json.code;
		if (code === "TOKEN_EXPIRED" || code === "UNAUTHENTICATED") {
			// Someone else may have refreshed while this call ran.
			if (access === used) await refresh();
			used = access;
			res = await send(method, url, body, used);
		}
		if (res.status === 401) {
			endSession("expired");
			throw sessionEnded();
		}
	}
	if (raw && res.ok) return res;
	const json = await readJson(res);
	if (!res.ok || !json || json.success !== true) throw errorOf(res, json);
	const total = res.headers.get("X-Total-Count");
	return {
		data: json.data,
		message: json.message || "",
		total: total === null ? null : Number(total),
	};
}

/* login(username, password, remember): starts a session; the user. */
export async function login(username, password, remember) {
	const r = await api("POST", "/api/auth/login", {
		auth: false,
		body: { username, password, remember_me: !!remember },
	});
	access = r.data.access_token;
	user = r.data.user;
	const [ss, ls] = [window.sessionStorage, window.localStorage];
	keep(remember ? ls : ss, r.data.refresh_token);
	notify("login");
	return user;
}

/* logout(): revokes the session on the server, then forgets it here. */
export async function logout() {
	try {
		if (access || stored()[1]) await api("POST", "/api/auth/logout");
	} catch {
		// the session is gone either way
	} finally {
		endSession("logout");
	}
}

/* restore(): after a page load, the session of a stored refresh token
 * (one refresh), or null. */
export async function restore() {
	const [s, token] = stored();
	if (!token) return null;
	store = s;
	try {
		return await refresh();
	} catch (e) {
		if (e.status === 401) return null;
		throw e;
	}
}

/* setUser(u): the session's user object changed (profile update). */
export function setUser(u) {
	user = u;
	notify("user");
}
