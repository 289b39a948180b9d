// views/driver.js: what a driver sees: lots, the active booking, history
// with the CSV export, and the profile.
import { api, now, setUser } from "../api.js";
import {
	h, field, errorBox, onSubmit, showError, status, money, when, clock,
	costSoFar, startedHours, plural, pager, table, badge, failed,
} from "../ui.js";

// ---- lots -------------------------------------------------------------------------

function matches(lot, q) {
	if (!q) return true;
	const hay = [lot.prime_location_name, lot.address, lot.pin_code]
	    .join(" ").toLowerCase();
	return q.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

function hours(lot) {
	return lot.operating_hours_start ?
	    lot.operating_hours_start + "–" + lot.operating_hours_end :
	    "Open all day";
}

function lotCard(lot, ctx) {
	const full = lot.available_spots <= 0;
	const headId = "lot-" + lot.id;
	const form = h("form", { class: "book" }, errorBox(),
	    field("Vehicle number (optional)", "vehicle_number", {
		maxlength: 20, autocomplete: "off", autocapitalize: "characters",
		spellcheck: "false", pattern: "[A-Za-z0-9 \\-]{1,20}",
		placeholder: "KA 01 AB 1234" }),
	    h("button", { type: "submit", disabled: full,
		"aria-describedby": headId }, full ? "Full" : "Book a spot"));
	onSubmit(form, async (v) => {
		const body = v.vehicle_number ?
		    { vehicle_number: v.vehicle_number } : undefined;
		const r = await api("POST", "/api/user/pkl/book/" + lot.id, { body });
		const b = r.data;
		ctx.go("/parking", { flash: "Booked: spot " + b.spot_number +
		    " at " + b.lot_name + " (" + b.spot_identifier + ")." });
	});
	// The bar shows the free share (the text above says it in words).
	const pct = lot.number_of_spots ?
	    Math.round(100 * lot.available_spots / lot.number_of_spots) : 0;
	const bar = h("span", { class: "fill free" });
	bar.style.width = pct + "%";
	return h("li", null, h("article", { class: "card lot",
	    "aria-labelledby": headId },
	    h("h2", { id: headId }, lot.prime_location_name),
	    h("p", { class: "addr" }, lot.address, " · PIN ", lot.pin_code),
	    lot.description ? h("p", { class: "muted" }, lot.description) : null,
	    h("dl", { class: "facts" },
		h("div", null, h("dt", null, "Price"),
		    h("dd", null, money(lot.price), " / hour")),
		h("div", null, h("dt", null, "Hours"), h("dd", null, hours(lot))),
		h("div", null, h("dt", null, "Free spots"),
		    h("dd", { class: full ? "bad" : "good" },
			lot.available_spots + " of " + lot.number_of_spots))),
	    h("span", { class: "bar", "aria-hidden": "true" }, bar),
	    form));
}

export async function lots(view, ctx) {
	const search = h("input", { type: "search", id: "lot-q", name: "q",
	    autocomplete: "off", value: ctx.query.get("q") || "",
	    "aria-describedby": "lot-count" });
	const count = h("p", { id: "lot-count", class: "muted",
	    "aria-live": "polite" });
	const list = h("ul", { class: "cards", "aria-label": "Parking lots" });
	const reload = h("button", { type: "button", class: "secondary" },
	    "Refresh");
	view.append(h("h1", null, "Find parking"),
	    h("form", { class: "search", role: "search",
		onsubmit: (e) => e.preventDefault() },
		h("label", { for: "lot-q" }, "Search by name, address or PIN code"),
		h("div", { class: "row" }, search, reload)),
	    count, list);
	let all = [];
	const show = () => {
		const q = search.value.trim();
		const found = all.filter((l) => matches(l, q));
		list.replaceChildren(...found.map((l) => lotCard(l, ctx)));
		count.textContent = all.length === 0 ? "No parking lots yet." :
		    q ? plural(found.length, "lot") + " match “" + q + "”." :
		    plural(all.length, "lot") + ".";
		// The search stays in the address (a reload keeps it) without a
		// new history entry per key.
		const url = q ? "/lots?q=" + encodeURIComponent(q) : "/lots";
		if (location.pathname + location.search !== url)
			history.replaceState(null, "", url);
	};
	const fetchAll = async () => {
		const r = await api("GET", "/api/user/pkl/list");
		all = r.data;
		show();
	};
	search.addEventListener("input", show);
	reload.addEventListener("click", () => fetchAll().then(
	    () => status("Free-spot counts updated."),
	    (e) => status(e.message, "error")));
	await fetchAll();
}

// ---- reservations ahead ------------------------------------------------------------
//
// A day and a window in 15-minute steps (the browser's time zone, taken to
// be the site's: the day's slots are the site's day), each lot's free
// places for the window with the day's slots as a small bar chart, then
// reserve; the upcoming reservations with a countdown, check-in and cancel.

const STEP = 15;

function pad(n) {
	return String(n).padStart(2, "0");
}

function localDay(t) {
	const d = new Date(t);
	return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" +
	    pad(d.getDate());
}

// The instant of "HH:MM" on day (YYYY-MM-DD) in the browser's zone, as
// RFC 3339 UTC; "24:00" is the next midnight.
function instant(day, hm) {
	const [y, m, d] = day.split("-").map(Number);
	const [hh, mm] = hm.split(":").map(Number);
	return new Date(y, m - 1, d, hh, mm).toISOString().replace(/\.\d+Z$/, "Z");
}

function times(last) {
	const out = [];
	for (let m = 0; m <= 24 * 60; m += STEP) {
		if (m === 24 * 60 && !last) break;
		const hm = pad(Math.floor(m / 60)) + ":" + pad(m % 60);
		out.push([hm, hm]);
	}
	return out;
}

function countdown(to) {
	const sec = Math.round((Date.parse(to) - now()) / 1000);
	if (sec <= 0) return "started";
	const d = Math.floor(sec / 86400);
	return (d ? d + "d " : "") + clock(sec % 86400);
}

function slotBars(slots, total, start, end) {
	const wrap = h("div", { class: "slots", role: "img", "aria-label":
	    "Free places through the day" });
	const a = Date.parse(start), b = Date.parse(end);
	for (const x of slots) {
		const t = Date.parse(x.start);
		const el = h("span", { class: x.available_spots === 0 ? "none" :
		    t >= a && t < b ? "pick" : "",
		    title: when(x.start) + ": " + x.available_spots + " free" });
		el.style.height = Math.max(4, total ?
		    100 * x.available_spots / total : 0) + "%";
		wrap.append(el);
	}
	return wrap;
}

function windowLot(lot, win, ctx, reload) {
	const headId = "wl-" + lot.id;
	const free = lot.window_available_spots;
	const bars = h("div", { class: "slot-chart" });
	api("GET", "/api/user/pkl/slots/" + lot.id, { query: { date: win.day } })
	    .then((r) => bars.replaceChildren(slotBars(r.data,
		lot.number_of_spots, win.start, win.end)), () => {});
	const form = h("form", { class: "book" }, errorBox(),
	    field("Vehicle number (optional)", "vehicle_number", {
		maxlength: 20, autocomplete: "off", autocapitalize: "characters",
		pattern: "[A-Za-z0-9 \\-]{1,20}", placeholder: "KA 01 AB 1234" }),
	    h("button", { type: "submit", disabled: free <= 0,
		"aria-describedby": headId }, free <= 0 ? "Full" : "Reserve"));
	onSubmit(form, async (v) => {
		const body = { start: win.start, end: win.end };
		if (v.vehicle_number) body.vehicle_number = v.vehicle_number;
		const r = await api("POST", "/api/user/pkl/reserve/" + lot.id,
		    { body });
		status("Reserved: spot " + r.data.spot_number + " at " +
		    r.data.lot_name + ", " + when(r.data.start_time) + " – " +
		    when(r.data.end_time) + ".");
		await reload();
	});
	return h("li", null, h("article", { class: "card lot",
	    "aria-labelledby": headId },
	    h("h2", { id: headId }, lot.prime_location_name),
	    h("p", { class: "addr" }, lot.address),
	    h("dl", { class: "facts" },
		h("div", null, h("dt", null, "Price"),
		    h("dd", null, money(lot.price), " / hour")),
		h("div", null, h("dt", null, "Hours"), h("dd", null, hours(lot))),
		h("div", null, h("dt", null, "Free for your window"),
		    h("dd", { class: free > 0 ? "good" : "bad" },
			free + " of " + lot.number_of_spots))),
	    bars, form));
}

function upcomingCard(r, sub, reload) {
	const head = "up-" + r.id;
	const left = h("span", { class: "countdown" });
	const err = errorBox();
	const checkin = h("button", { type: "button",
	    "aria-describedby": head }, "Check in");
	const cancel = h("button", { type: "button", class: "secondary",
	    "aria-describedby": head }, "Cancel");
	const tick = () => {
		left.textContent = countdown(r.start_time);
		const t = now(), s0 = Date.parse(r.start_time);
		checkin.disabled = t < s0 - 15 * 60000;
		cancel.disabled = t >= s0;
	};
	tick();
	const timer = setInterval(tick, 1000);
	sub.onLeave(() => clearInterval(timer));
	const act = (path, done) => async () => {
		err.hidden = true;
		checkin.disabled = cancel.disabled = true;
		try {
			const x = await api("POST", path,
			    { body: { reservation_id: r.id } });
			clearInterval(timer);
			status(done(x));
			await reload();
		} catch (e) {
			err.textContent = e.message;
			err.hidden = false;
			tick();
		}
	};
	checkin.addEventListener("click", act("/api/user/pkl/checkin",
	    (x) => x.message + "."));
	cancel.addEventListener("click", act("/api/user/pkl/cancel",
	    () => "Reservation cancelled."));
	return h("li", null, h("article", { class: "card upcoming",
	    "aria-labelledby": head, "data-resv": r.id },
	    h("h3", { id: head }, r.lot_name, " · spot ",
		String(r.spot_number)),
	    h("p", null, when(r.start_time), " – ", when(r.end_time),
		r.vehicle_number ? " · " + r.vehicle_number : ""),
	    h("p", null, "Starts in ", left),
	    err, h("div", { class: "actions" }, checkin, cancel)));
}

export async function reserve(view, ctx) {
	const t0 = now() + STEP * 60000;
	const start0 = new Date(Math.ceil(t0 / (STEP * 60000)) * STEP * 60000);
	const d0 = localDay(start0);
	const hm0 = pad(start0.getHours()) + ":" + pad(start0.getMinutes());
	const end0 = new Date(start0.getTime() + 2 * 3600000);
	const hm1 = localDay(end0) === d0 ?
	    pad(end0.getHours()) + ":" + pad(end0.getMinutes()) : "24:00";
	const form = h("form", { class: "card window" }, errorBox(),
	    h("div", { class: "row" },
		field("Day", "day", { type: "date", required: true, value: d0,
		    min: localDay(now()) }),
		field("From", "from", { type: "select", options: times(false),
		    value: hm0 }),
		field("Until", "until", { type: "select", options: times(true),
		    value: hm1 })),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Show free places"),
		h("a", { href: "/lots" }, "Park now instead")));
	const list = h("ul", { class: "cards", "aria-label":
	    "Lots for your window" });
	const upcoming = h("ul", { class: "cards", "aria-label":
	    "Your upcoming reservations" });
	view.append(h("h1", null, "Reserve ahead"),
	    h("p", { class: "muted" }, "Choose a day and a window in " + STEP +
		"-minute steps (30 minutes to 24 hours, up to 30 days ahead)."),
	    form, list, h("h2", null, "Your upcoming reservations"), upcoming);
	let win = null;
	let stop = [];
	const sub = { ...ctx, onLeave: (fn) => { stop.push(fn); ctx.onLeave(fn); } };
	const reload = async () => {
		for (const fn of stop) fn();
		stop = [];
		const up = await api("GET", "/api/user/pkl/book/list",
		    { query: { upcoming: "true", limit: 20 } });
		upcoming.replaceChildren(...(up.data.length ? up.data.map((r) =>
		    upcomingCard(r, sub, reload)) : [h("li", { class: "card empty" },
		    "No upcoming reservations.")]));
		if (!win) return;
		const r = await api("GET", "/api/user/pkl/list",
		    { query: { start: win.start, end: win.end } });
		list.replaceChildren(...r.data.map((l) => windowLot(l, win, ctx,
		    reload)));
	};
	onSubmit(form, async (v) => {
		const end = v.until === "24:00" ? instant(v.day, "23:45")
		    .replace(/Z$/, "Z") : instant(v.day, v.until);
		win = { day: v.day, start: instant(v.day, v.from),
		    end: v.until === "24:00" ?
			new Date(Date.parse(end) + STEP * 60000).toISOString()
			    .replace(/\.\d+Z$/, "Z") : end };
		await reload();
		status(plural(list.children.length, "lot") + " for " +
		    when(win.start) + " – " + when(win.end) + ".");
	});
	await reload();
}

// ---- the active booking -------------------------------------------------------------

function elapsedOf(r) {
	return (now() - Date.parse(r.parking_timestamp)) / 1000;
}

function activeCard(r, ctx, reload) {
	const dur = h("span", { class: "big mono" });
	const cost = h("span", { class: "big" });
	const basis = h("span", { class: "muted" });
	const tick = () => {
		const sec = elapsedOf(r);
		dur.textContent = clock(sec);
		cost.textContent = money(costSoFar(r.hourly_rate, sec));
		basis.textContent = money(r.hourly_rate) + " × " +
		    plural(startedHours(sec), "started hour");
	};
	tick();
	const timer = setInterval(tick, 1000);
	ctx.onLeave(() => clearInterval(timer));
	const head = "resv-" + r.id;
	const btn = h("button", { type: "button", class: "danger",
	    "aria-describedby": head }, "Release spot");
	const err = errorBox();
	btn.addEventListener("click", async () => {
		btn.disabled = true;
		err.hidden = true;
		try {
			const done = await api("POST", "/api/user/pkl/release", {
				body: { reservation_id: r.id } });
			clearInterval(timer);
			await reload(done.data);
		} catch (e) {
			err.textContent = e.message;
			err.hidden = false;
			btn.disabled = false;
		}
	});
	return h("article", { class: "card active", "aria-labelledby": head },
	    h("h2", { id: head }, "Spot ", h("span", { class: "spot-no" },
		String(r.spot_number)), " · ", r.lot_name),
	    h("dl", { class: "facts" },
		h("div", null, h("dt", null, "Spot"), h("dd", null, r.spot_identifier)),
		h("div", null, h("dt", null, "Vehicle"),
		    h("dd", null, r.vehicle_number || "–")),
		h("div", null, h("dt", null, "Parked since"),
		    h("dd", null, when(r.parking_timestamp))),
		h("div", null, h("dt", null, "Rate"),
		    h("dd", null, money(r.hourly_rate), " / hour"))),
	    h("div", { class: "meters" },
		h("div", null, h("span", { class: "label", id: head + "-d" },
		    "Duration"), dur),
		h("div", null, h("span", { class: "label" }, "Cost so far"), cost,
		    basis)),
	    err, h("div", { class: "actions" }, btn));
}

function receipt(r) {
	return h("section", { class: "card receipt", "aria-labelledby": "rc-h" },
	    h("h2", { id: "rc-h" }, "Spot released"),
	    h("p", null, r.spot_identifier, ", ", r.vehicle_number || "no vehicle number"),
	    h("dl", { class: "facts" },
		h("div", null, h("dt", null, "Parked"),
		    h("dd", null, when(r.parking_timestamp), " – ",
			when(r.leaving_timestamp))),
		h("div", null, h("dt", null, "Duration"),
		    h("dd", null, r.duration_str)),
		h("div", null, h("dt", null, "Final cost"),
		    h("dd", { class: "big final-cost" }, money(r.parking_cost)))));
}

export async function parking(view, ctx) {
	const top = h("div");
	const body = h("div");
	view.append(h("h1", null, "My parking"), top, body);
	const reload = async (released) => {
		const r = await api("GET", "/api/user/summary");
		for (const fn of stop) fn();
		stop = [];
		const sub = { ...ctx, onLeave: (fn) => { stop.push(fn);
		    ctx.onLeave(fn); } };
		const s = r.data;
		if (released) {
			top.replaceChildren(receipt(released));
			status("Spot " + released.spot_number + " released. Final cost " +
			    money(released.parking_cost) + ".");
		}
		body.replaceChildren(
		    s.active_reservations.length ?
			h("div", { class: "stack" }, s.active_reservations.map((a) =>
			    activeCard(a, sub, reload))) :
			h("p", { class: "card empty" }, "You have no active booking. ",
			    h("a", { href: "/lots" }, "Find a parking spot"), "."),
		    h("h2", null, "All your parking"),
		    h("dl", { class: "kpis" },
			h("div", null, h("dt", null, "Bookings"),
			    h("dd", null, String(s.total_bookings))),
			h("div", null, h("dt", null, "Hours parked"),
			    h("dd", null, String(s.hours_parked))),
			h("div", null, h("dt", null, "Spent"),
			    h("dd", null, money(s.total_spent)))),
		    h("p", null, h("a", { href: "/history" }, "See your history")));
	};
	let stop = [];
	await reload(null);
}

// ---- history and export -------------------------------------------------------------

const PAGE = 10;
const EXPORT_KEY = "parkd.export";

function statusBadge(st) {
	return badge(st, st === "active" ? "warn" : st === "completed" ? "ok" : "");
}

export async function bookings(view, ctx) {
	const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
	const st = ctx.query.get("status") || "";
	const filter = h("form", { class: "filters" },
	    field("Show", "status", { type: "select", value: st, options: [
		["", "All bookings"], ["active", "Active"],
		["completed", "Completed"], ["cancelled", "Cancelled"]] }));
	filter.elements.status.addEventListener("change", () => {
		const v = filter.elements.status.value;
		ctx.go("/history" + (v ? "?status=" + v : ""));
	});
	const list = h("div");
	view.append(h("h1", null, "History"), filter, list,
	    exportSection(ctx));
	const r = await api("GET", "/api/user/pkl/book/list", {
		query: { limit: PAGE, offset, status: st } });
	const total = r.total ?? r.data.length;
	const go = (o) => {
		const q = new URLSearchParams();
		if (st) q.set("status", st);
		if (o) q.set("offset", String(o));
		ctx.go("/history" + (q.toString() ? "?" + q : ""));
	};
	list.replaceChildren(
	    r.data.length === 0 && offset === 0 ?
		h("p", { class: "card empty" }, "No bookings yet.") :
		table("Your bookings", ["Parked", "Lot", "Spot", "Vehicle",
		    "Duration", "Cost", "Status"], r.data.map((b) => [
		    when(b.parking_timestamp), b.lot_name, String(b.spot_number),
		    b.vehicle_number || "–", b.duration_str,
		    b.is_active ? "–" : money(b.parking_cost),
		    statusBadge(b.status)])),
	    pager(total, PAGE, offset, go));
}

function exportSection(ctx) {
	const btn = h("button", { type: "button" }, "Export to CSV");
	const bar = h("progress", { max: "100", id: "export-progress",
	    "aria-labelledby": "export-label" });
	const label = h("span", { id: "export-label" }, "");
	const state = h("p", { class: "export-state", role: "status",
	    "aria-live": "polite" });
	const err = errorBox();
	const dl = h("div", { class: "actions" });
	const box = h("div", { class: "progress", hidden: true }, label, bar);
	const sec = h("section", { class: "card", "aria-labelledby": "exp-h" },
	    h("h2", { id: "exp-h" }, "Export to CSV"),
	    h("p", null, "A CSV file of all your bookings is prepared in the " +
		"background. It is e-mailed to you with a link, and you can " +
		"download it here when it is ready."),
	    err, h("div", { class: "actions" }, btn), box, state, dl);
	let timer = null;
	let lastState = "";
	ctx.onLeave(() => clearTimeout(timer));

	const show = (job) => {
		box.hidden = false;
		const p = Math.max(0, Math.min(100, job.progress || 0));
		const words = {
			PENDING: "Waiting to start…",
			PROGRESS: "Writing the file… " + p + "%",
			SUCCESS: "Ready. A link to the file was e-mailed to you too.",
			FAILURE: "The export failed.",
		};
		label.textContent = "Export progress";
		if (job.state === "PENDING") bar.removeAttribute("value");
		else bar.value = job.state === "SUCCESS" ? 100 : p;
		// Announce changes of state, not every percent.
		if (job.state !== lastState) {
			state.textContent = words[job.state] || job.state;
			lastState = job.state;
		} else if (job.state === "PROGRESS") {
			state.textContent = words.PROGRESS;
		}
		if (job.state === "FAILURE" || job.error && job.state !== "SUCCESS") {
			err.textContent = job.error || "The export failed.";
			err.hidden = false;
		}
	};
	const poll = async (id) => {
		try {
			const r = await api("GET", "/api/user/export-status/" +
			    encodeURIComponent(id));
			show(r.data);
			if (r.data.state === "SUCCESS") {
				sessionStorage.removeItem(EXPORT_KEY);
				btn.disabled = false;
				dl.replaceChildren(downloadButton(r.data.filename));
				return;
			}
			if (r.data.state === "FAILURE") {
				sessionStorage.removeItem(EXPORT_KEY);
				btn.disabled = false;
				return;
			}
		} catch (e) {
			if (e.status === 404) {
				sessionStorage.removeItem(EXPORT_KEY);
				btn.disabled = false;
				return;
			}
			state.textContent = e.message + " Retrying…";
		}
		timer = setTimeout(() => poll(id), 1500);
	};
	btn.addEventListener("click", async () => {
		btn.disabled = true;
		err.hidden = true;
		dl.replaceChildren();
		lastState = "";
		try {
			const r = await api("POST", "/api/user/export-csv");
			sessionStorage.setItem(EXPORT_KEY, r.data.task_id);
			show({ state: "PENDING", progress: 0 });
			poll(r.data.task_id);
		} catch (e) {
			err.textContent = e.status === 404 && e.code === "NOT_FOUND" ?
			    "Exports are not available on this server yet." : e.message;
			err.hidden = false;
			btn.disabled = false;
		}
	});
	// An export started before a reload or a visit elsewhere goes on.
	const pending = sessionStorage.getItem(EXPORT_KEY);
	if (pending) {
		btn.disabled = true;
		show({ state: "PENDING", progress: 0 });
		poll(pending);
	}
	return sec;
}

// The file needs the owner's token, which a plain link cannot carry: fetch
// it, then hand the browser the bytes to save.
function downloadButton(filename) {
	const b = h("button", { type: "button", class: "download" },
	    "Download ", filename);
	b.addEventListener("click", async () => {
		b.disabled = true;
		try {
			const res = await api("GET", "/api/user/download-csv/" +
			    encodeURIComponent(filename), { raw: true });
			const blob = await res.blob();
			const url = URL.createObjectURL(blob);
			const a = h("a", { href: url, download: filename, hidden: true });
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 10000);
			status("Downloaded " + filename + ".");
		} catch (e) {
			status(e.message, "error");
		} finally {
			b.disabled = false;
		}
	});
	return b;
}

// ---- profile -----------------------------------------------------------------------------

export async function profile(view, ctx) {
	const r = await api("GET", "/api/user/profile");
	let me = r.data;
	const acct = h("form", { class: "card" }, h("h2", null, "Account"),
	    errorBox(),
	    field("Username", "username", { required: true, minlength: 3,
		maxlength: 80, pattern: "[A-Za-z0-9_]{3,80}", value: me.username,
		autocomplete: "username" }, "3 to 80 letters, digits or _."),
	    field("E-mail", "email", { type: "email", required: true,
		maxlength: 254, value: me.email, autocomplete: "email" }),
	    field("Phone", "phone", { type: "tel", maxlength: 40,
		value: me.phone || "", autocomplete: "tel" },
		"10 to 15 digits, may start with +. Empty removes it."),
	    field("Current password", "current_password", { type: "password",
		autocomplete: "current-password", "data-raw": "" },
		"Needed only to change the e-mail."),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Save changes")));
	onSubmit(acct, async (v) => {
		const body = {};
		if (v.username !== me.username) body.username = v.username;
		if (v.email !== me.email) {
			body.email = v.email;
			// The server asks for it: a stolen session alone must not
			// move the address that password resets go to.
			body.current_password = v.current_password;
		}
		if (v.phone !== (me.phone || "")) body.phone = v.phone || null;
		if (!Object.keys(body).length) {
			status("Nothing to save.");
			return;
		}
		const u = await api("POST", "/api/user/profile/update", { body });
		me = u.data;
		setUser(me);
		acct.elements.phone.value = me.phone || "";
		acct.elements.current_password.value = "";
		status("Your profile is saved.");
	});

	const pw = h("form", { class: "card" }, h("h2", null, "Password"),
	    errorBox(),
	    field("Current password", "current_password", { type: "password",
		required: true, autocomplete: "current-password", "data-raw": "" }),
	    field("New password", "new_password", { type: "password",
		required: true, minlength: 8, maxlength: 128,
		autocomplete: "new-password", "data-raw": "" },
		"8 to 128 characters."),
	    field("New password again", "confirm", { type: "password",
		required: true, autocomplete: "new-password", "data-raw": "" }),
	    h("div", { class: "actions" },
		h("button", { type: "submit" }, "Change password")));
	onSubmit(pw, async (v) => {
		if (v.new_password !== v.confirm) {
			showError(pw, { message: "The passwords differ",
			    details: { confirm: ["must repeat the new password"] } });
			return;
		}
		await api("POST", "/api/user/password", { body: {
			current_password: v.current_password,
			new_password: v.new_password } });
		pw.reset();
		status("Password changed. Your other sessions were logged out.");
	});

	view.append(h("h1", null, "Profile"),
	    h("p", { class: "muted" }, "Member since ", when(me.created_at),
		me.last_login ? " · last login " + when(me.last_login) : ""),
	    me.email_verified === false ? unverified(me) : null,
	    h("div", { class: "two" }, acct, pw));
}

// The notice of an address not verified yet, with "send again".
function unverified(me) {
	const btn = h("button", { type: "button", class: "secondary" },
	    "Send the link again");
	btn.addEventListener("click", async () => {
		btn.disabled = true;
		try {
			const r = await api("POST", "/api/user/verify-email/resend");
			status(r.message + ".");
		} catch (e) {
			if (!(e && e.status !== undefined)) throw e;
			status(e.message, "error");
		} finally {
			btn.disabled = false;
		}
	});
	return h("div", { class: "card notice", role: "note",
	    "data-testid": "unverified" },
	    h("p", null, "Your e-mail address ", h("strong", null, me.email),
		" is not verified yet. Open the link we e-mailed you."),
	    h("div", { class: "actions" }, btn));
}

export { failed };
