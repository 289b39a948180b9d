// views/auth.js: logging in, registering, and getting back in: the
// forgotten password, the reset page and the verification page that the
// e-mailed links open.  A link's token is in the #fragment (browsers never
// send it, so no server log holds it); the page takes it out of the
// address bar at once and posts it in a JSON body.
import { api, currentUser, login as startSession, setUser } from "../api.js";
import { h, field, errorBox, onSubmit, showError, status } from "../ui.js";

export async function login(view, ctx) {
	const next = ctx.query.get("next");
	const form = h("form", { class: "card narrow", novalidate: false },
	    errorBox(),
	    field("Username or e-mail", "username", { required: true,
		autocomplete: "username", autocapitalize: "none",
		spellcheck: "false", maxlength: 320,
		value: ctx.query.get("user") || "" }),
	    field("Password", "password", { type: "password", required: true,
		autocomplete: "current-password", "data-raw": "" }),
	    field("Keep me logged in on this device", "remember_me",
		{ type: "checkbox" },
		"Keeps the session after the browser closes. Leave it off on " +
		"a shared computer."),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Log in")));
	onSubmit(form, async (v) => {
		const user = await startSession(v.username, v.password,
		    v.remember_me);
		// Only a path of this app: never an address elsewhere.
		const ok = next && /^\/(?!\/)/.test(next) && !next.startsWith("/api/");
		ctx.go(ok ? next : user.role === "admin" ? "/admin" : "/lots", {
			replace: true });
	});
	view.append(h("h1", null, "Log in"),
	    h("p", null, "Book a parking spot in seconds."), form,
	    h("p", null, h("a", { href: "/forgot-password" },
		"Forgot password?")),
	    h("p", null, "New here? ", h("a", { href: "/register" },
		"Create an account"), "."));
	if (form.elements.username.value) form.elements.password.focus();
}

export async function register(view, ctx) {
	const form = h("form", { class: "card narrow" },
	    errorBox(),
	    field("Username", "username", { required: true, minlength: 3,
		maxlength: 80, pattern: "[A-Za-z0-9_]{3,80}",
		autocomplete: "username", autocapitalize: "none",
		spellcheck: "false" },
		"3 to 80 letters, digits or _."),
	    field("E-mail", "email", { type: "email", required: true,
		maxlength: 254, autocomplete: "email" }),
	    field("Password", "password", { type: "password", required: true,
		minlength: 8, maxlength: 128, autocomplete: "new-password",
		"data-raw": "" }, "8 to 128 characters."),
	    field("Phone (optional)", "phone", { type: "tel", maxlength: 40,
		autocomplete: "tel" }, "10 to 15 digits, may start with +."),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Create account")));
	onSubmit(form, async (v) => {
		const body = { username: v.username, email: v.email,
		    password: v.password };
		if (v.phone) body.phone = v.phone;
		const r = await api("POST", "/api/auth/register", { body,
		    auth: false });
		ctx.go("/login?user=" + encodeURIComponent(r.data.username), {
			flash: "Account " + r.data.username + " created. " +
			    "Log in with your password." });
	});
	view.append(h("h1", null, "Create an account"), form,
	    h("p", null, "Already registered? ", h("a", { href: "/login" },
		"Log in"), "."));
}

// The token of an e-mailed link ("#token=..."), taken out of the address
// bar (and so out of the history) as soon as it is read.
function linkToken() {
	const m = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash);
	if (location.hash)
		history.replaceState(null, "", location.pathname + location.search);
	return m ? m[1] : null;
}

export async function forgotPassword(view) {
	const done = h("p", { class: "notice", role: "status", hidden: true });
	const form = h("form", { class: "card narrow" },
	    errorBox(),
	    field("E-mail", "email", { type: "email", required: true,
		maxlength: 254, autocomplete: "email" },
		"The address of your account."),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Send me a link")));
	onSubmit(form, async (v) => {
		const r = await api("POST", "/api/auth/forgot-password", {
			body: { email: v.email }, auth: false });
		// The same answer whether or not the address has an account.
		done.textContent = r.message + ". The link works once, for a " +
		    "short while; check your spam folder too.";
		done.hidden = false;
		form.reset();
	});
	view.append(h("h1", null, "Forgot your password?"),
	    h("p", null, "We will e-mail you a link to choose a new one."),
	    form, done,
	    h("p", null, h("a", { href: "/login" }, "Back to log in")));
}

export async function resetPassword(view, ctx) {
	const token = linkToken();
	view.append(h("h1", null, "Choose a new password"));
	if (!token) {
		view.append(h("p", null, "This link is incomplete. Open the link " +
		    "of the e-mail again, or ", h("a", { href: "/forgot-password" },
		    "ask for a new one"), "."));
		return;
	}
	const form = h("form", { class: "card narrow" },
	    errorBox(),
	    field("New password", "new_password", { type: "password",
		required: true, minlength: 8, maxlength: 128,
		autocomplete: "new-password", "data-raw": "" },
		"8 to 128 characters."),
	    field("New password again", "confirm", { type: "password",
		required: true, autocomplete: "new-password", "data-raw": "" }),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Set the new password")));
	onSubmit(form, async (v) => {
		if (v.new_password !== v.confirm) {
			showError(form, { message: "The passwords differ",
			    details: { confirm: ["must repeat the new password"] } });
			return;
		}
		try {
			await api("POST", "/api/auth/reset-password", { auth: false,
				body: { token, new_password: v.new_password } });
		} catch (e) {
			if (e && e.code === "INVALID_TOKEN") {
				showError(form, { message: "This link has expired or " +
				    "was used already" });
				form.append(h("p", null, h("a", {
				    href: "/forgot-password" }, "Ask for a new link")));
				return;
			}
			throw e;
		}
		ctx.go("/login", { replace: true, flash: "Your password is " +
		    "changed, and every session was logged out. Log in with the " +
		    "new password." });
	});
	view.append(form);
}

export async function verifyEmail(view) {
	const token = linkToken();
	view.append(h("h1", null, "Verify your e-mail address"));
	if (!token) {
		view.append(h("p", null, "This link is incomplete. Open the link " +
		    "of the e-mail again."));
		return;
	}
	try {
		const r = await api("POST", "/api/auth/verify-email", { auth: false,
			body: { token } });
		const me = currentUser();
		if (me && me.id === r.data.id) setUser(r.data);
		view.append(h("p", { class: "notice", role: "status" },
		    "Thank you: " + r.data.email + " is verified."),
		    h("p", null, h("a", { href: me ? "/profile" : "/login" },
		    me ? "Back to your profile" : "Log in")));
	} catch (e) {
		if (!(e && e.code === "INVALID_TOKEN")) throw e;
		status("This link has expired or was used already.", "error");
		view.append(h("p", null, "Log in and use \u201cSend the link " +
		    "again\u201d on your profile for a new one."),
		    h("p", null, h("a", { href: "/profile" }, "Your profile")));
	}
}
