// app.js: starts the app, keeps the navigation and routes paths to views.
// Paths are real URLs (history API); nginx answers index.html for any path
// that is not a file, so a reload or a bookmark lands on the same view.
import { currentUser, logout, onSession, restore } from "./api.js";
import { h, status, failed } from "./ui.js";

const load = {
	auth: () => import("./views/auth.js"),
	driver: () => import("./views/driver.js"),
	admin: () => import("./views/admin.js"),
};

// path pattern, module, export, who may see it, title
const ROUTES = [
	["/login", "auth", "login", "guest", "Log in"],
	["/register", "auth", "register", "guest", "Create an account"],
	["/forgot-password", "auth", "forgotPassword", "guest",
	    "Forgot password"],
	// the e-mailed links: for anyone, logged in or not
	["/reset-password", "auth", "resetPassword", "any",
	    "Choose a new password"],
	["/verify-email", "auth", "verifyEmail", "any", "Verify e-mail address"],
	["/lots", "driver", "lots", "user", "Find parking"],
	["/parking", "driver", "parking", "user", "My parking"],
	["/reserve", "driver", "reserve", "user", "Reserve ahead"],
	["/history", "driver", "bookings", "user", "History"],
	["/profile", "driver", "profile", "user", "Profile"],
	["/admin", "admin", "dashboard", "admin", "Dashboard"],
	["/admin/lots", "admin", "lots", "admin", "Parking lots"],
	["/admin/lots/:id", "admin", "lot", "admin", "Parking lot"],
	["/admin/users", "admin", "users", "admin", "Users"],
	["/admin/reservations", "admin", "reservations", "admin", "Reservations"],
];

const NAV = {
	guest: [["/login", "Log in"], ["/register", "Create an account"]],
	user: [["/lots", "Find parking"], ["/reserve", "Reserve ahead"],
	    ["/parking", "My parking"],
	    ["/history", "History"], ["/profile", "Profile"]],
	admin: [["/admin", "Dashboard"], ["/admin/lots", "Lots"],
	    ["/admin/users", "Users"], ["/admin/reservations", "Reservations"]],
};

function home(user) {
	if (!user) return "/login";
	return user.role === "admin" ? "/admin" : "/lots";
}

function match(path) {
	const parts = path.replace(/\/+$/, "").split("/");
	for (const r of ROUTES) {
		const pat = r[0].split("/");
		if (pat.length !== parts.length) continue;
		const params = {};
		let ok = true;
		for (let i = 0; i < pat.length && ok; i++) {
			if (pat[i].startsWith(":")) params[pat[i].slice(1)] =
			    decodeURIComponent(parts[i]);
			else ok = pat[i] === parts[i];
		}
		if (ok) return { route: r, params };
	}
	return null;
}

let leaveFns = [];
let first = true;
let seq = 0;

function renderNav() {
	const user = currentUser();
	const role = user ? (user.role === "admin" ? "admin" : "user") : "guest";
	const here = location.pathname.replace(/\/+$/, "") || "/";
	const items = NAV[role].map(([href, text]) => h("li", null,
	    h("a", { href, "aria-current": here === href ||
		(href !== "/admin" && here.startsWith(href + "/")) ? "page" : null },
	    text)));
	const nav = document.getElementById("nav");
	const who = user ? h("li", { class: "who" },
	    h("span", { class: "sr-only" }, "Logged in as "),
	    user.role === "admin" ? user.email : user.username) : null;
	const out = user ? h("li", null, h("button", { type: "button",
	    class: "link", onclick: async () => {
		await logout();
		go("/login", { flash: "You are logged out." });
	} }, "Log out")) : null;
	nav.replaceChildren(h("ul", null, items, who, out));
}

/* go(path, {replace, flash}): shows another view. */
export function go(path, opts = {}) {
	if (opts.replace) history.replaceState(null, "", path);
	else history.pushState(null, "", path);
	render(opts.flash);
}

async function render(flash) {
	const my = ++seq;
	shown = location.pathname + location.search;
	delete document.documentElement.dataset.view;
	for (const fn of leaveFns) fn();
	leaveFns = [];
	const user = currentUser();
	const path = location.pathname;
	if (path === "/" || path === "") {
		history.replaceState(null, "", home(user));
		return render(flash);
	}
	const m = match(path);
	const main = document.getElementById("main");
	const note = typeof flash === "string" ? { text: flash } : flash || {};
	renderNav();
	status(note.text || "", note.kind);
	if (!m) {
		document.title = "Not found · parkd";
		main.replaceChildren(h("h1", { tabindex: "-1" }, "Page not found"),
		    h("p", null, "There is nothing at this address. ",
		    h("a", { href: home(user) }, "Go to the start page"), "."));
		focusTitle(main);
		document.documentElement.dataset.view = "notfound";
		return;
	}
	const [, mod, name, who, title] = m.route;
	if (who === "guest" && user) return go(home(user), { replace: true });
	if (who !== "guest" && who !== "any" && !user) {
		const back = location.pathname + location.search;
		return go("/login?next=" + encodeURIComponent(back), {
			replace: true, flash });
	}
	if (who === "admin" && user.role !== "admin" ||
	    who === "user" && user.role === "admin")
		return go(home(user), { replace: true });
	document.title = title + " · parkd";
	const view = h("div", { class: "view" });
	main.setAttribute("aria-busy", "true");
	main.replaceChildren(view);
	const ctx = {
		params: m.params,
		query: new URLSearchParams(location.search),
		user,
		go,
		onLeave: (fn) => leaveFns.push(fn),
		live: () => my === seq,
		title: (t) => { document.title = t + " · parkd"; },
	};
	try {
		const module = await load[mod]();
		if (my !== seq) return;
		await module[name](view, ctx);
	} catch (e) {
		if (my !== seq) return;
		if (e && e.code === "SESSION_ENDED") return; // onSession redirects
		view.append(failed(e));
		if (!(e && e.status !== undefined)) console.error(e);
	} finally {
		if (my === seq) main.removeAttribute("aria-busy");
	}
	if (my === seq) {
		focusTitle(main);
		document.documentElement.dataset.view = name;
		performance.mark("parkd:view:" + name);
	}
}

// After a navigation, the focus goes to the new view's heading so that a
// screen reader announces it and Tab starts from the top of the view.
function focusTitle(main) {
	if (first) {
		first = false;
		return;
	}
	const h1 = main.querySelector("h1");
	if (h1) {
		h1.setAttribute("tabindex", "-1");
		h1.focus({ preventScroll: false });
	}
}

// Links inside the app change the view without a page load.
document.addEventListener("click", (ev) => {
	if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey ||
	    ev.shiftKey || ev.altKey) return;
	const a = ev.target.closest("a[href]");
	if (!a || a.target || a.hasAttribute("download")) return;
	const url = new URL(a.href, location.href);
	if (url.origin !== location.origin || url.pathname.startsWith("/api/"))
		return;
	const here = url.pathname + url.search ===
	    location.pathname + location.search;
	ev.preventDefault();
	if (here && url.hash) { // "#main": no new history entry, just focus
		const to = document.getElementById(decodeURIComponent(
		    url.hash.slice(1)));
		if (to) {
			to.focus();
			to.scrollIntoView();
		}
		return;
	}
	if (here) return render();
	go(url.pathname + url.search);
});

// Back and Forward; a change of the #fragment alone is not a new view.
let shown = "";
window.addEventListener("popstate", () => {
	if (location.pathname + location.search !== shown) render();
});

onSession((user, reason) => {
	// An export that was being watched belongs to the session that ends.
	if (reason === "expired" || reason === "logout")
		sessionStorage.removeItem("parkd.export");
	if (reason === "expired") {
		go("/login", { flash: { text: "Your session has ended. Please " +
		    "log in again.", kind: "error" } });
	} else if (reason === "user" || reason === "refresh") {
		renderNav();
	}
});

async function start() {
	try {
		await restore();
	} catch (e) {
		status(e.message, "error");
	}
	// A failed restore may have shown the login page already.
	if (seq === 0) render();
}

start();
