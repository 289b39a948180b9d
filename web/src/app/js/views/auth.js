// views/auth.js: logging in and registering.
import { api, login as startSession } from "../api.js";
import { h, field, errorBox, onSubmit } from "../ui.js";

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
