// ui.js: building the page from data, forms and their errors, formatting.
// Text always goes in as text nodes (never HTML): nothing the server or a
// user typed can become markup.

const SVG = "http://www.w3.org/2000/svg";

function append(el, kids) {
	for (const k of kids) {
		if (k === null || k === undefined || k === false) continue;
		if (Array.isArray(k)) append(el, k);
		else el.append(k instanceof Node ? k : String(k));
	}
}

function props(el, p) {
	for (const [k, v] of Object.entries(p || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith("on") && typeof v === "function")
			el.addEventListener(k.slice(2), v);
		else if (k === "class") el.setAttribute("class", v);
		else if (k in el && typeof v !== "string" && !(el instanceof SVGElement))
			el[k] = v;
		else el.setAttribute(k, v === true ? "" : String(v));
	}
}

/* h(tag, props, ...children): an element.  Props "onclick" etc. add
 * listeners; true makes an empty attribute; null/false leave it out. */
export function h(tag, p, ...kids) {
	const el = document.createElement(tag);
	props(el, p);
	append(el, kids);
	return el;
}

/* s(tag, attrs, ...children): an SVG element. */
export function s(tag, p, ...kids) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(p || {})) {
		if (v !== null && v !== undefined) el.setAttribute(k, String(v));
	}
	append(el, kids);
	return el;
}

// ---- formatting --------------------------------------------------------------

const moneyFmt = new Intl.NumberFormat("en-IN", {
	style: "currency", currency: "INR", minimumFractionDigits: 2,
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
	dateStyle: "medium", timeStyle: "short",
});
const dayFmt = new Intl.DateTimeFormat(undefined, {
	day: "numeric", month: "short", timeZone: "UTC",
});

export function money(n) {
	return n === null || n === undefined ? "–" : moneyFmt.format(n);
}

export function when(iso) {
	if (!iso) return "–";
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

/* A date "YYYY-MM-DD" (UTC) as "26 Nov". */
export function day(date) {
	return dayFmt.format(new Date(date + "T00:00:00Z"));
}

/* clock(seconds): "1:05:09". */
export function clock(sec) {
	sec = Math.max(0, Math.floor(sec));
	const hh = Math.floor(sec / 3600);
	const mm = String(Math.floor(sec / 60) % 60).padStart(2, "0");
	const ss = String(sec % 60).padStart(2, "0");
	return hh + ":" + mm + ":" + ss;
}

/* The hours a stay is charged: every started hour, at least one. */
export function startedHours(sec) {
	return Math.max(1, Math.ceil(Math.max(0, sec) / 3600));
}

/* Rate times started hours, in cents to avoid binary fractions. */
export function costSoFar(rate, sec) {
	return Math.round(rate * 100) * startedHours(sec) / 100;
}

export function plural(n, one, many) {
	return n + " " + (n === 1 ? one : many || one + "s");
}

// ---- the status line (aria-live) ---------------------------------------------

/* status(text, kind): announces text in the page's live region; kind
 * "error" shows it as an error.  Empty text clears it. */
export function status(text, kind) {
	const el = document.getElementById("status");
	el.className = "status" + (text ? " on " + (kind || "ok") : "");
	el.textContent = text || "";
}

// ---- forms ------------------------------------------------------------------------

let uid = 0;

/*
 * field(label, name, attrs, hint): a labelled input with a hint and a slot
 * for its errors, all tied together with aria-describedby.  attrs.type
 * "select" takes attrs.options [[value, label]...]; "textarea" makes one;
 * "checkbox" puts the label after the box.
 */
export function field(label, name, attrs = {}, hint) {
	const id = "f" + ++uid + "-" + name;
	const errId = id + "-err";
	const hintId = hint ? id + "-hint" : null;
	const { type = "text", options, ...rest } = attrs;
	const described = [hintId, errId].filter(Boolean).join(" ");
	let input;
	if (type === "select") {
		input = h("select", { id, name, "aria-describedby": described, ...rest },
		    (options || []).map(([v, t]) => h("option", { value: v }, t)));
	} else if (type === "textarea") {
		input = h("textarea", { id, name, "aria-describedby": described,
		    ...rest });
	} else {
		input = h("input", { id, name, type, "aria-describedby": described,
		    ...rest });
	}
	// The current value as a property: a textarea ignores a value
	// attribute, a select needs its options first.
	if (rest.value !== undefined && type !== "checkbox")
		input.value = String(rest.value);
	const err = h("p", { id: errId, class: "field-error", hidden: true });
	const hintEl = hint ? h("p", { id: hintId, class: "hint" }, hint) : null;
	if (type === "checkbox") {
		return h("div", { class: "field check" }, input,
		    h("label", { for: id }, label), hintEl, err);
	}
	return h("div", { class: "field" }, h("label", { for: id }, label),
	    hintEl, input, err);
}

/* formBox(): the form's own error box (role=alert), placed by the caller. */
export function errorBox() {
	return h("div", { class: "form-error", role: "alert", hidden: true });
}

export function clearErrors(form) {
	for (const el of form.querySelectorAll("[aria-invalid]"))
		el.removeAttribute("aria-invalid");
	for (const el of form.querySelectorAll(".field-error")) {
		el.textContent = "";
		el.hidden = true;
	}
	const box = form.querySelector(".form-error");
	if (box) {
		box.textContent = "";
		box.hidden = true;
	}
}

/*
 * showError(form, err): the API's error in the form: each details entry
 * next to its field (aria-invalid), the rest in the form's error box; the
 * first bad field gets the focus.  Names are the API's field names.
 */
export function showError(form, err) {
	clearErrors(form);
	const box = form.querySelector(".form-error");
	const other = [];
	let first = null;
	for (const [name, problems] of Object.entries(err.details || {})) {
		const input = form.elements.namedItem(name);
		const list = Array.isArray(problems) ? problems : [String(problems)];
		const el = input && input.id ?
		    document.getElementById(input.id + "-err") : null;
		if (el) {
			input.setAttribute("aria-invalid", "true");
			el.textContent = fieldText(input, list);
			el.hidden = false;
			first = first || input;
		} else {
			other.push(name.replace(/_/g, " ") + " " + list.join(", "));
		}
	}
	if (box) {
		box.textContent = [err.message, ...other].join(". ");
		box.hidden = false;
	}
	(first || box || form).focus?.();
}

// "Username is already taken", "Number of spots: 1 occupied spot above 1".
function fieldText(input, list) {
	const label = input.labels && input.labels[0] ?
	    input.labels[0].textContent : input.name;
	return list.map((p) => /^(is|are|must|has|should|cannot|can't) /.test(p) ?
	    label + " " + p : label + ": " + p).join("; ");
}

/* values(form): the form's fields as {name: value}; checkboxes as booleans,
 * text trimmed unless the input says data-raw (passwords). */
export function values(form) {
	const out = {};
	for (const el of form.elements) {
		if (!el.name || el.disabled) continue;
		if (el.type === "checkbox") out[el.name] = el.checked;
		else if (el.dataset.raw !== undefined) out[el.name] = el.value;
		else out[el.name] = el.value.trim();
	}
	return out;
}

/* submit(form, fn): runs fn(values) on submit with the submit button
 * disabled and aria-busy set; an ApiError lands in the form. */
export function onSubmit(form, fn) {
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const btn = form.querySelector("button[type=submit]");
		if (btn && btn.disabled) return;
		clearErrors(form);
		status("");
		if (btn) btn.disabled = true;
		form.setAttribute("aria-busy", "true");
		try {
			await fn(values(form), ev);
		} catch (e) {
			if (e && e.status !== undefined) showError(form, e);
			else throw e;
		} finally {
			if (btn) btn.disabled = false;
			form.removeAttribute("aria-busy");
		}
	});
	return form;
}

// ---- bits ---------------------------------------------------------------------------

/* pager(total, limit, offset, go): "21–30 of 45" with previous and next
 * buttons; go(newOffset). */
export function pager(total, limit, offset, go) {
	const from = total === 0 ? 0 : offset + 1;
	const to = Math.min(total, offset + limit);
	const prev = h("button", { type: "button", class: "secondary",
	    disabled: offset <= 0,
	    onclick: () => go(Math.max(0, offset - limit)) }, "Previous");
	const next = h("button", { type: "button", class: "secondary",
	    disabled: offset + limit >= total,
	    onclick: () => go(offset + limit) }, "Next");
	return h("nav", { class: "pager", "aria-label": "Pages" }, prev,
	    h("span", { class: "count" }, total === 0 ? "Nothing to show" :
	    from + "–" + to + " of " + total), next);
}

/* table(caption, heads, rows): a table in a scrollable region that the
 * keyboard can scroll too.  rows: arrays of cells (text or nodes).  The
 * explicit roles keep it a table for screen readers when a phone's CSS
 * shows its rows as cards. */
export function table(caption, heads, rows, attrs = {}) {
	return h("div", { class: "table-wrap", role: "region", tabindex: "0",
	    "aria-label": caption },
	h("table", { role: "table", ...attrs },
	    h("caption", { class: "sr-only" }, caption),
	    h("thead", { role: "rowgroup" }, h("tr", { role: "row" },
		heads.map((t) => h("th", { scope: "col", role: "columnheader" },
		    t)))),
	    h("tbody", { role: "rowgroup" }, rows.map((r) => h("tr",
		{ role: "row" }, r.map((c, i) => i === 0 ?
		h("th", { scope: "row", role: "rowheader",
		    "data-label": heads[i] }, c) :
		h("td", { role: "cell", "data-label": heads[i] }, c)))))));
}

export function badge(text, kind) {
	return h("span", { class: "badge " + (kind || "") }, text);
}

export function loading() {
	return h("p", { class: "loading" }, "Loading…");
}

/* failed(err): a message for a view that could not load. */
export function failed(err) {
	return h("div", { class: "form-error", role: "alert" },
	    err && err.message ? err.message : String(err));
}
