// views/admin.js: the admin's dashboard, lots (with the spot grid), users
// and reservations.
import { api } from "../api.js";
import {
	h, s, field, errorBox, onSubmit, status, money, when, day, plural,
	pager, table, badge,
} from "../ui.js";

// ---- dashboard -----------------------------------------------------------------

function kpi(label, value, note) {
	return h("div", null, h("dt", null, label), h("dd", null, value,
	    note ? h("span", { class: "note" }, note) : null));
}

function meter(pct, label) {
	const fill = h("span", { class: "fill" });
	fill.style.width = Math.max(0, Math.min(100, pct)) + "%";
	return h("span", { class: "bar", role: "img", "aria-label": label }, fill);
}

// Bookings per day as bars in inline SVG, with the numbers in a table too.
function chart(days) {
	const W = 600, H = 200, padL = 30, padB = 24, padT = 10;
	const max = Math.max(1, ...days.map((d) => d.bookings));
	const step = (W - padL) / days.length;
	const bw = Math.max(2, step * 0.7);
	const y = (v) => padT + (H - padT - padB) * (1 - v / max);
	const total = days.reduce((a, d) => a + d.bookings, 0);
	const bars = days.map((d, i) => s("rect", {
		x: (padL + i * step + (step - bw) / 2).toFixed(1),
		y: y(d.bookings).toFixed(1), width: bw.toFixed(1),
		height: (H - padB - y(d.bookings)).toFixed(1), class: "bar-rect",
	}, s("title", null, day(d.date) + ": " + plural(d.bookings, "booking"))));
	const labels = days.map((d, i) => i % 5 === 0 || i === days.length - 1 ?
	    s("text", { x: (padL + i * step + step / 2).toFixed(1), y: H - 6,
		"text-anchor": "middle", class: "axis" }, day(d.date)) : null)
	    .filter(Boolean);
	const svg = s("svg", { viewBox: "0 0 " + W + " " + H, class: "chart",
	    role: "img", "aria-labelledby": "chart-t chart-d" },
	    s("title", { id: "chart-t" }, "Bookings per day, last 30 days"),
	    s("desc", { id: "chart-d" }, plural(total, "booking") + " in 30 days; " +
		"at most " + max + " in a day."),
	    s("line", { x1: padL, y1: H - padB, x2: W, y2: H - padB, class: "axis-line" }),
	    s("line", { x1: padL, y1: padT, x2: padL, y2: H - padB, class: "axis-line" }),
	    s("text", { x: padL - 4, y: padT + 4, "text-anchor": "end",
		class: "axis" }, String(max)),
	    s("text", { x: padL - 4, y: H - padB, "text-anchor": "end",
		class: "axis" }, "0"),
	    bars, labels);
	return h("figure", { class: "card" },
	    h("figcaption", null, h("h2", null, "Bookings per day"),
		h("p", { class: "muted" }, "The last 30 days (UTC), " +
		    plural(total, "booking") + " in all.")),
	    svg,
	    h("details", null, h("summary", null, "Show as a table"),
		table("Bookings per day", ["Day", "Bookings"], days.map((d) =>
		    [day(d.date), String(d.bookings)]))));
}

export async function dashboard(view) {
	const r = await api("GET", "/api/admin/summary");
	const d = r.data;
	view.append(h("h1", null, "Dashboard"),
	    h("dl", { class: "kpis" },
		kpi("Occupancy", d.occupancy_percent + "%",
		    d.occupied_spots + " of " + d.total_spots + " spots"),
		kpi("Parked now", String(d.active_reservations)),
		kpi("Reserved ahead", String(d.upcoming_reservations),
		    "waiting for their start"),
		kpi("No-shows", d.no_show_percent + "%",
		    d.no_shows_30d + " in the last 30 days"),
		kpi("Revenue today", money(d.revenue_today)),
		kpi("Revenue this month", money(d.revenue_month)),
		kpi("Users", String(d.total_users), d.active_users + " active"),
		kpi("Lots", String(d.total_lots))),
	    h("section", { class: "card", "aria-labelledby": "occ-h" },
		h("h2", { id: "occ-h" }, "Occupancy per lot"),
		d.lots.length === 0 ? h("p", null, "No lots yet.") :
		h("ul", { class: "occupancy" }, d.lots.map((l) => h("li", null,
		    h("a", { href: "/admin/lots/" + l.id }, l.name),
		    l.is_active ? null : badge("inactive"),
		    meter(l.occupancy_percent, l.occupancy_percent + "% occupied"),
		    h("span", { class: "muted" }, l.occupied_spots + " / " +
			l.number_of_spots + " (" + l.occupancy_percent + "%)"))))),
	    chart(d.bookings_per_day));
}

// ---- lots -----------------------------------------------------------------------

const LOT_FIELDS = ["prime_location_name", "address", "pin_code",
    "number_of_spots", "price", "description", "operating_hours_start",
    "operating_hours_end", "is_active"];

function lotForm(lot, submitText) {
	const v = lot || {};
	return h("form", { class: "lot-form" }, errorBox(),
	    h("div", { class: "grid2" },
		field("Name", "prime_location_name", { required: true, minlength: 3,
		    maxlength: 100, value: v.prime_location_name || "" },
		    "3 to 100 letters, digits, spaces and -.,'"),
		field("PIN code", "pin_code", { required: true,
		    pattern: "[0-9]{6,10}", inputmode: "numeric",
		    value: v.pin_code || "" }, "6 to 10 digits.")),
	    field("Address", "address", { required: true, minlength: 10,
		maxlength: 500, value: v.address || "" }),
	    h("div", { class: "grid2" },
		field("Number of spots", "number_of_spots", { type: "number",
		    required: true, min: 1, max: 1000, step: 1,
		    value: v.number_of_spots ?? "" },
		    lot ? "Changing it resizes the lot: only free spots at the " +
			"end can be removed." : "1 to 1000."),
		field("Price per hour (₹)", "price", { type: "number",
		    required: true, min: 0, max: 10000, step: "0.01",
		    value: v.price ?? "" })),
	    h("div", { class: "grid2" },
		field("Opens at", "operating_hours_start", { type: "time",
		    value: v.operating_hours_start || "" },
		    "Both times or neither: empty means open all day."),
		field("Closes at", "operating_hours_end", { type: "time",
		    value: v.operating_hours_end || "" })),
	    field("Description (optional)", "description", { type: "textarea",
		maxlength: 1000, rows: 2, value: v.description || "" }),
	    field("Open for booking", "is_active", { type: "checkbox",
		checked: lot ? !!lot.is_active : true }),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, submitText)));
}

// The form's values as the API wants them; with old, only what changed.
function lotBody(v, old) {
	const out = {
		prime_location_name: v.prime_location_name,
		address: v.address,
		pin_code: v.pin_code,
		number_of_spots: v.number_of_spots === "" ? "" :
		    Number(v.number_of_spots),
		price: v.price === "" ? "" : Number(v.price),
		description: v.description || null,
		operating_hours_start: v.operating_hours_start || null,
		operating_hours_end: v.operating_hours_end || null,
		is_active: v.is_active,
	};
	if (!old) {
		for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
		return out;
	}
	const body = {};
	for (const k of LOT_FIELDS) {
		if ((out[k] ?? null) !== (old[k] ?? null)) body[k] = out[k];
	}
	// The hours go together.
	if ("operating_hours_start" in body || "operating_hours_end" in body) {
		body.operating_hours_start = out.operating_hours_start;
		body.operating_hours_end = out.operating_hours_end;
	}
	return body;
}

async function deleteLot(lot) {
	if (!confirm("Delete the lot " + lot.prime_location_name + "? A lot " +
	    "with past bookings is kept as history but leaves every list."))
		return false;
	try {
		await api("DELETE", "/api/admin/pkl/delete/" + lot.id);
		status("Deleted " + lot.prime_location_name + ".");
		return true;
	} catch (e) {
		const why = Object.values(e.details || {}).flat().join("; ");
		status("Cannot delete " + lot.prime_location_name + ": " + e.message +
		    (why ? " (" + why + ")" : ""), "error");
		return false;
	}
}

export async function lots(view, ctx) {
	const r = await api("GET", "/api/admin/pkl/list");
	const form = lotForm(null, "Create lot");
	onSubmit(form, async (v) => {
		const c = await api("POST", "/api/admin/pkl/create", {
			body: lotBody(v, null) });
		ctx.go("/admin/lots/" + c.data.id, { flash: "Created " +
		    c.data.prime_location_name + " with " +
		    plural(c.data.number_of_spots, "spot") + "." });
	});
	const add = h("details", { class: "card", open: r.data.length === 0 },
	    h("summary", null, "Add a lot"), form);
	const rows = r.data.map((l) => {
		const del = h("button", { type: "button", class: "danger small",
		    "aria-label": "Delete " + l.prime_location_name }, "Delete");
		del.addEventListener("click", async () => {
			if (await deleteLot(l)) ctx.go("/admin/lots", { replace: true,
			    flash: "Deleted " + l.prime_location_name + "." });
		});
		return [h("a", { href: "/admin/lots/" + l.id }, l.prime_location_name),
		    l.pin_code, String(l.number_of_spots),
		    l.occupied_spots + " / " + l.number_of_spots, money(l.price),
		    l.is_active ? badge("open", "ok") : badge("closed"),
		    h("span", { class: "row-actions" },
			h("a", { href: "/admin/lots/" + l.id,
			    "aria-label": "Spots and settings of " +
				l.prime_location_name }, "Open"), del)];
	});
	view.append(h("h1", null, "Parking lots"), add,
	    r.data.length ? table("Parking lots", ["Name", "PIN", "Spots",
		"Occupied", "Price / h", "Status", "Actions"], rows) :
		h("p", { class: "card empty" }, "No lots yet: add the first one."));
}

function spotGrid(lot) {
	return h("ul", { class: "spots", "aria-label": "Spots of " +
	    lot.prime_location_name }, lot.spots.map((sp) => {
		const o = sp.status === "O" && sp.reservation;
		const res = sp.status === "R";
		return h("li", { class: o ? "spot occ" : res ? "spot res" :
		    "spot free", "data-spot": sp.spot_number },
		    h("span", { class: "no" }, String(sp.spot_number)),
		    h("span", { class: "st" }, o ? "Occupied" : res ?
			"Reserved soon" : "Free"),
		    o ? h("span", { class: "who" }, sp.reservation.username) : null,
		    o ? h("span", { class: "veh" },
			sp.reservation.vehicle_number || "no vehicle no.") : null,
		    o ? h("span", { class: "since" }, "since ",
			when(sp.reservation.parking_timestamp)) : null);
	}));
}

// A lot's day as a timeline per spot: who, when, status (the day is the
// site's, TIMEZONE; times are shown in the browser's zone).
function timeline(l) {
	const today = new Date(Date.now() - new Date().getTimezoneOffset() *
	    60000).toISOString().slice(0, 10);
	const date = h("input", { type: "date", id: "tl-date", name: "date",
	    value: today });
	const body = h("div", { class: "timeline" });
	const show = async () => {
		const r = await api("GET", "/api/admin/pkl/" + l.id + "/timeline",
		    { query: { date: date.value } });
		const d0 = Date.parse(date.value + "T00:00:00");
		const span = 86400000;
		body.replaceChildren(h("ul", { class: "tl", "aria-label":
		    "Reservations per spot on " + date.value },
		    r.data.spots.map((sp) => h("li", { "data-spot": sp.spot_number },
			h("span", { class: "no" }, "Spot " + sp.spot_number),
			h("span", { class: "lane" }, sp.intervals.map((iv) => {
				const a = Math.max(0, Date.parse(iv.start) - d0);
				const b = Math.min(span, Date.parse(iv.end) - d0);
				const el = h("span", { class: "iv " + iv.status,
				    title: iv.username + ", " + when(iv.start) +
				    " – " + when(iv.end) + ", " + iv.status },
				    iv.username + " " + iv.status);
				el.style.left = (100 * a / span) + "%";
				el.style.width = Math.max(1, 100 * (b - a) / span) + "%";
				return el;
			})),
			h("span", { class: "sr-only" }, sp.intervals.length ?
			    sp.intervals.map((iv) => iv.username + " " +
				when(iv.start) + " – " + when(iv.end) + " " +
				iv.status).join("; ") : "nothing")))));
	};
	date.addEventListener("change", () => show().catch((e) =>
	    status(e.message, "error")));
	show().catch((e) => status(e.message, "error"));
	return h("section", { class: "card", "aria-labelledby": "tl-h" },
	    h("h2", { id: "tl-h" }, "Day timeline"),
	    h("div", { class: "field" }, h("label", { for: "tl-date" }, "Day"),
		date), body);
}

export async function lot(view, ctx) {
	const r = await api("GET", "/api/admin/pkl/" +
	    encodeURIComponent(ctx.params.id));
	const l = r.data;
	ctx.title(l.prime_location_name);
	const form = lotForm(l, "Save changes");
	onSubmit(form, async (v) => {
		const body = lotBody(v, l);
		if (!Object.keys(body).length) {
			status("Nothing to save.");
			return;
		}
		const u = await api("POST", "/api/admin/pkl/update/" + l.id, { body });
		ctx.go("/admin/lots/" + l.id, { replace: true, flash: "Saved " +
		    u.data.prime_location_name + ": " +
		    plural(u.data.number_of_spots, "spot") + "." });
	});
	const del = h("button", { type: "button", class: "danger" }, "Delete lot");
	del.addEventListener("click", async () => {
		if (await deleteLot(l)) ctx.go("/admin/lots", { flash: "Deleted " +
		    l.prime_location_name + "." });
	});
	view.append(
	    h("p", { class: "crumbs" }, h("a", { href: "/admin/lots" }, "Lots"),
		" / "),
	    h("h1", null, l.prime_location_name),
	    h("p", { class: "muted" }, l.address, " · PIN ", l.pin_code, " · ",
		money(l.price), " / hour · ", l.is_active ? "open for booking" :
		"closed for booking"),
	    h("section", { class: "card", "aria-labelledby": "grid-h" },
		h("h2", { id: "grid-h" }, "Spots"),
		h("p", { class: "legend" },
		    h("span", { class: "spot free mini" }, "Free"), " ",
		    l.available_spots, "   ",
		    h("span", { class: "spot occ mini" }, "Occupied"), " ",
		    l.occupied_spots, " of ", l.number_of_spots),
		spotGrid(l)),
	    timeline(l),
	    h("section", { class: "card", "aria-labelledby": "edit-h" },
		h("h2", { id: "edit-h" }, "Settings"), form),
	    h("div", { class: "actions" }, del,
		h("a", { href: "/admin/reservations?lot_id=" + l.id },
		    "Reservations of this lot")));
}

// ---- users --------------------------------------------------------------------

const USERS_PAGE = 20;

export async function users(view, ctx) {
	const q = ctx.query.get("q") || "";
	const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
	const url = (qq, o) => {
		const p = new URLSearchParams();
		if (qq) p.set("q", qq);
		if (o) p.set("offset", String(o));
		return "/admin/users" + (p.toString() ? "?" + p : "");
	};
	const search = h("form", { class: "search", role: "search" },
	    h("label", { for: "user-q" }, "Search by username or e-mail"),
	    h("div", { class: "row" },
		h("input", { type: "search", id: "user-q", name: "q", value: q,
		    maxlength: 100, autocomplete: "off" }),
		h("button", { type: "submit" }, "Search")));
	search.addEventListener("submit", (e) => {
		e.preventDefault();
		ctx.go(url(search.elements.q.value.trim(), 0));
	});
	const r = await api("GET", "/api/admin/users", {
		query: { q, limit: USERS_PAGE, offset } });
	const rows = r.data.map((u) => {
		const st = h("span", null, u.is_active ? badge("active", "ok") :
		    badge("inactive", "bad"));
		const btn = h("button", { type: "button",
		    class: u.is_active ? "danger small" : "small" });
		const set = (user) => {
			u = user;
			btn.textContent = u.is_active ? "Deactivate" : "Activate";
			btn.className = u.is_active ? "danger small" : "small";
			btn.setAttribute("aria-label", btn.textContent + " " + u.username);
			st.replaceChildren(u.is_active ? badge("active", "ok") :
			    badge("inactive", "bad"));
		};
		set(u);
		btn.addEventListener("click", async () => {
			const verb = u.is_active ? "deactivate" : "activate";
			if (verb === "deactivate" && !confirm("Deactivate " + u.username +
			    "? They are logged out at once and cannot log in."))
				return;
			btn.disabled = true;
			try {
				const x = await api("POST", "/api/admin/users/" + u.id + "/" +
				    verb);
				set(x.data);
				status(u.username + (u.is_active ? " is active again." :
				    " is deactivated."));
			} catch (e) {
				status(e.message, "error");
			} finally {
				btn.disabled = false;
			}
		});
		return [u.username, u.email, u.phone || "–", st, when(u.created_at),
		    when(u.last_login), h("span", { class: "row-actions" }, btn,
			h("a", { href: "/admin/reservations?user_id=" + u.id,
			    "aria-label": "Reservations of " + u.username },
			    "Reservations"))];
	});
	view.append(h("h1", null, "Users"), search,
	    q ? h("p", { class: "muted" }, plural(r.total ?? r.data.length,
		"user"), " match “", q, "”.") : null,
	    rows.length ? table("Users", ["Username", "E-mail", "Phone",
		"Status", "Registered", "Last login", "Actions"], rows) :
		h("p", { class: "card empty" }, "No users found."),
	    pager(r.total ?? r.data.length, USERS_PAGE, offset,
		(o) => ctx.go(url(q, o))));
}

// ---- reservations ---------------------------------------------------------------

const RESV_PAGE = 20;

function nextDay(date) {
	const d = new Date(date + "T00:00:00Z");
	d.setUTCDate(d.getUTCDate() + 1);
	return d.toISOString().slice(0, 10);
}

export async function reservations(view, ctx) {
	const q = ctx.query;
	const f = {
		lot_id: q.get("lot_id") || "", user_id: q.get("user_id") || "",
		status: q.get("status") || "", from: q.get("from") || "",
		to: q.get("to") || "",
	};
	const offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
	const lotsP = api("GET", "/api/admin/pkl/list");
	const listP = api("GET", "/api/admin/reservations", { query: {
		lot_id: f.lot_id, user_id: f.user_id, status: f.status,
		from: f.from, to: f.to ? nextDay(f.to) : "",
		limit: RESV_PAGE, offset } });
	const [lotsR, r] = await Promise.all([lotsP, listP]);
	const form = h("form", { class: "filters card" }, errorBox(),
	    h("div", { class: "grid5" },
		field("Lot", "lot_id", { type: "select", value: f.lot_id,
		    options: [["", "All lots"], ...lotsR.data.map((l) =>
			[String(l.id), l.prime_location_name])] }),
		field("User id", "user_id", { type: "number", min: 1,
		    value: f.user_id, inputmode: "numeric" }),
		field("Status", "status", { type: "select", value: f.status,
		    options: [["", "Any"], ["active", "Active"],
			["completed", "Completed"], ["cancelled", "Cancelled"]] }),
		field("From", "from", { type: "date", value: f.from }),
		field("To (inclusive)", "to", { type: "date", value: f.to })),
	    h("p", { class: "hint" }, "Dates are days in UTC."),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Filter"),
		h("a", { href: "/admin/reservations" }, "Clear filters")));
	const url = (vals, o) => {
		const p = new URLSearchParams();
		for (const [k, v] of Object.entries(vals)) if (v) p.set(k, v);
		if (o) p.set("offset", String(o));
		return "/admin/reservations" + (p.toString() ? "?" + p : "");
	};
	onSubmit(form, async (v) => ctx.go(url(v, 0)));
	const total = r.total ?? r.data.length;
	view.append(h("h1", null, "Reservations"), form,
	    r.data.length ? table("Reservations", ["#", "Parked", "Lot",
		"Spot", "User", "Vehicle", "Duration", "Cost", "Status"],
	    r.data.map((x) => [String(x.id), when(x.parking_timestamp),
		h("a", { href: "/admin/lots/" + x.lot_id }, x.lot_name),
		String(x.spot_number),
		h("a", { href: url({ user_id: String(x.user_id) }, 0) },
		    x.username),
		x.vehicle_number || "–", x.duration_str,
		x.is_active ? "–" : money(x.parking_cost),
		badge(x.status, x.status === "active" ? "warn" :
		    x.status === "completed" ? "ok" : "")])) :
		h("p", { class: "card empty" }, "No reservations match."),
	    pager(total, RESV_PAGE, offset, (o) => ctx.go(url(f, o))));
}
