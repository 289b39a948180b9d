#!/usr/bin/env python3
"""75-metrics.t: GET /metrics, the Prometheus metrics (issue #19).

Through nginx, against 3 workers:

* the answer is the text format 0.0.4 and promtool check metrics accepts
  it; a copy with one malformed line is refused (so the check can fail);
* counters move by exactly the traffic the test sends: 30 health checks,
  2 unknown paths, a 415, a 413 and a 400 body, a booking and its
  release (revenue), a reservation made and cancelled; the sum of every
  request counter moves by the requests sent and nothing else; the free
  spots of the lot and the active reservations follow the booking;
* whichever worker answers, a scrape shows the same totals (6 scrapes in
  a row agree);
* a worker killed with SIGKILL is replaced and the totals stay: its
  counts were never its own; the death is counted as a crash and the
  start of its replacement as a start;
* /metrics from 127.0.0.2 (not in nginx's geo $parkd_metrics_allowed) is
  nginx's 403 and never reaches parkd; with PARKD_METRICS_ALLOW not
  naming 127.0.0.1 (after a SIGHUP) parkd itself answers 403, empty 404,
  and the totals survive the reload's new workers;
* the Python prometheus_client parser (Debian's python3-prometheus-client)
  reads every sample, and every metric family's name is unique (a counter
  parkd_x_total's family is parkd_x: no gauge may be called that);
* parkctl tick marking a no-show moves parkd_reservations_total
  {outcome="no_show"} by 1 and the revenue by its charge (the database's
  totals, migration 014); mail sent and failed (rows written behind
  parkd's back) move parkd_outbox_messages, and their deletion moves it
  back (014's triggers);
* the scrape configuration and the alert rules of README.md: promtool
  check rules accepts the rules (and refuses a broken copy), every
  parkd_ metric they name is in a scrape, and promtool test rules runs
  them on series made from a real scrape's samples, labelled as
  Prometheus stores them (the target's job and instance added; a sample
  label job would become exported_job): mail queued while parkctl mail
  has not succeeded for 90 minutes fires ParkdOutboxStuck, a healthy
  outbox does not; a daily job failing for a day fires
  ParkdJobNotSucceeding, the monthly report job does not.
"""

import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

# Debian's python3-prometheus-client, whatever python3 runs the test
sys.path.append("/usr/lib/python3/dist-packages")
try:
    from prometheus_client.parser import \
        text_string_to_metric_families  # noqa: E402
except ImportError:
    text_string_to_metric_families = None

WORKERS = 3
PROMTOOL = os.environ.get("PROMTOOL", "/usr/bin/promtool")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$')


def parse(text):
    """The samples of a scrape: {'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def scrape(s, source=None):
    r = s.req("GET", "/metrics", headers={"Accept": "text/plain"},
              source=source)
    return r, (parse(r.text) if r.status == 200 else {})


def delta(a, b, key):
    return b.get(key, 0) - a.get(key, 0)


def req_key(route, method, cls):
    return 'parkd_http_requests_total{route="%s",method="%s",status="%s"}' \
        % (route, method, cls)


def promtool(args, text):
    """Runs promtool with text on stdin (or in a file for rules)."""
    return subprocess.run([PROMTOOL] + args, input=text, text=True,
                          capture_output=True, timeout=60)


def check_format(body):
    r = promtool(["check", "metrics"], body)
    ok(r.returncode == 0, "promtool check metrics accepts the scrape",
       r.stdout[-2000:], r.stderr[-2000:])
    broken = body + 'parkd_broken_total{route="/x" 1\n'
    r = promtool(["check", "metrics"], broken)
    ok(r.returncode != 0, "promtool check metrics refuses a copy with one "
       "malformed line (the check can fail)", r.stdout[-500:])
    # Conventions: a prefix, counters in _total, base units.
    names = set(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    bad = [n for n, t in names if not n.startswith("parkd_") or
           (t == "counter" and not n.endswith("_total")) or
           re.search(r"_(ms|milliseconds|minutes|bytes_kb)\b", n)]
    ok(names and not bad, "%d metrics, all parkd_, counters _total, base "
       "units" % len(names), *bad)


def check_parser(body):
    """The prometheus_client parser reads every sample; family names are
    unique."""
    if text_string_to_metric_families is None:
        ok(False, "python3-prometheus-client is installed (dev/lib.sh)")
        return
    try:
        fams = list(text_string_to_metric_families(body))
    except ValueError as e:
        ok(False, "prometheus_client parses the scrape", str(e))
        return
    lines = [x for x in body.splitlines() if x and not x.startswith("#")]
    n = sum(len(f.samples) for f in fams)
    is_(n, len(lines), "prometheus_client parses all %d samples"
        % len(lines))
    count = collections.Counter(f.name for f in fams)
    dup = sorted(k for k, v in count.items() if v > 1)
    ok(fams and not dup, "every metric family name is unique (%d families)"
       % len(fams), *["  %s: %s" % (f.name, sorted({x.name for x in
                                                      f.samples}))
                      for f in fams if f.name in dup])
    try:
        list(text_string_to_metric_families(
            body + 'parkd_broken_total{route="/x" 1\n'))
        refused = False
    except ValueError:
        refused = True
    ok(refused, "the parser refuses a copy with one malformed line")


def readme_block(starts):
    """The first ```yaml block of README.md whose text starts with
    starts."""
    with open(os.path.join(T.SRCDIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    for m in re.finditer(r"```yaml\n(.*?)```", text, re.S):
        if m.group(1).startswith(starts):
            return m.group(1)
    return None


def check_rules(sample):
    rules = readme_block("groups:")
    config = readme_block("scrape_configs:")
    ok(rules is not None and config is not None,
       "README.md has the scrape configuration and the rules")
    if rules is None:
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "parkd-rules.yml")
        with open(path, "w") as f:
            f.write(rules)
        r = subprocess.run([PROMTOOL, "check", "rules", path], text=True,
                           capture_output=True, timeout=60)
        ok(r.returncode == 0 and "SUCCESS: 3 rules found" in r.stdout,
           "promtool check rules accepts README.md's three rules",
           r.stdout[-1000:], r.stderr[-1000:])
        with open(path, "w") as f:
            f.write(rules.replace("sum(rate(", "sum(rate((", 1))
        r = subprocess.run([PROMTOOL, "check", "rules", path], text=True,
                           capture_output=True, timeout=60)
        ok(r.returncode != 0, "promtool check rules refuses a broken copy")
    names = set(re.findall(r"\b(parkd_[a-z_]+)", rules))
    have = {k.split("{")[0] for k in sample}
    missing = sorted(names - have)
    ok(names and not missing, "every metric the rules name is scraped: %s"
       % ", ".join(sorted(names)), *missing)
    for rule in ("ParkdHighErrorRatio", "ParkdOutboxStuck",
                 "ParkdJobNotSucceeding"):
        ok(rule in rules, "README.md's rules hold %s" % rule)
    check_rule_behaviour(rules, sample)


TARGET = {"job": "parkd", "instance": "127.0.0.1:80"}


def stored(key, sample):
    """The series Prometheus stores for the scrape's sample key (README's
    scrape config, honor_labels off): the target's job and instance
    added, a sample's own job or instance renamed exported_*.  None when
    the scrape has no such sample."""
    if key not in sample:
        return None
    name, _, rest = key.partition("{")
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', rest))
    for k in list(labels):
        if k in TARGET:
            labels["exported_" + k] = labels.pop(k)
    labels.update(TARGET)
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in
                                      sorted(labels.items())))


def rules_unit_tests(sample):
    """promtool test rules' file for README's rules: series from the
    scrape's own samples (None if one is missing)."""
    queued = stored('parkd_outbox_messages{state="queued"}', sample)
    job = {j: stored('parkd_job_last_success_timestamp_seconds'
                     '{parkctl_job="%s"}' % j, sample)
           for j in ("mail", "cleanup", "remind", "report")}
    if queued is None or None in job.values():
        return None
    t = dict(TARGET)
    return """rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: mail queued, parkctl mail stuck for 90 minutes
    interval: 1m
    input_series:
      - series: '%(queued)s'
        values: '5x120'
      - series: '%(mail)s'
        values: '1000x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: ParkdOutboxStuck
        exp_alerts:
          - exp_labels: {severity: ticket, state: queued, job: %(job)s,
                         instance: "%(instance)s"}
            exp_annotations:
              summary: 'E-mail is queued but parkctl mail has not succeeded for 30 minutes'
              description: 'See systemctl status parkctl-mail.timer and journalctl -u parkctl-mail.'
  - name: mail queued, parkctl mail succeeding every minute
    interval: 1m
    input_series:
      - series: '%(queued)s'
        values: '5x120'
      - series: '%(mail)s'
        values: '1000+60x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: ParkdOutboxStuck
        exp_alerts: []
  - name: nothing queued, parkctl mail stuck
    interval: 1m
    input_series:
      - series: '%(queued)s'
        values: '0x120'
      - series: '%(mail)s'
        values: '1000x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: ParkdOutboxStuck
        exp_alerts: []
  - name: cleanup failing for a day; report a month old; remind fine
    interval: 1m
    input_series:
      - series: '%(cleanup)s'
        values: '60x1700'
      - series: '%(report)s'
        values: '0x1700'
      - series: '%(remind)s'
        values: '60+60x1700'
    alert_rule_test:
      - eval_time: 1600m
        alertname: ParkdJobNotSucceeding
        exp_alerts:
          - exp_labels: {severity: ticket, parkctl_job: cleanup,
                         job: %(job)s, instance: "%(instance)s"}
            exp_annotations:
              summary: 'parkctl cleanup has not succeeded for a day'
              description: 'See parkctl db stats and journalctl -u parkctl-cleanup.'
  - name: every job fine
    interval: 1m
    input_series:
      - series: '%(cleanup)s'
        values: '60+60x1700'
      - series: '%(report)s'
        values: '60+60x1700'
    alert_rule_test:
      - eval_time: 1600m
        alertname: ParkdJobNotSucceeding
        exp_alerts: []
""" % dict(t, queued=queued, **job)


def check_rule_behaviour(rules, sample):
    tests = rules_unit_tests(sample)
    ok(tests is not None, "the series the rules need are in the scrape "
       "(parkd_outbox_messages{state=\"queued\"}, parkd_job_last_success_"
       "timestamp_seconds{parkctl_job=...})")
    if tests is None:
        return
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "rules.yml"), "w") as f:
            f.write(rules)
        with open(os.path.join(d, "tests.yml"), "w") as f:
            f.write(tests)
        r = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=d,
                           text=True, capture_output=True, timeout=120)
        ok(r.returncode == 0, "promtool test rules: ParkdOutboxStuck fires "
           "for mail stuck 90 minutes and not for a healthy outbox; "
           "ParkdJobNotSucceeding fires for a daily job failing a day, not "
           "for the monthly report", *(r.stdout + r.stderr).splitlines())
        # the test can fail: the rules as they were before #19's review
        with open(os.path.join(d, "rules.yml"), "w") as f:
            f.write(rules.replace("parkctl_job", "job").replace(
                "and on(job, instance)\n", "and "))
        r = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=d,
                           text=True, capture_output=True, timeout=120)
        ok(r.returncode != 0, "promtool test rules fails for the rules "
           "selecting on job (the test can fail)")


def check_totals(s, lot, u, m):
    """parkctl tick's no-show in the counters; mail sent and failed."""
    start = (int(time.time()) // 900 + 96) * 900
    iso = "%Y-%m-%dT%H:%M:%SZ"
    r = u.req("POST", "/api/user/pkl/reserve/%d" % lot, {
        "start": time.strftime(iso, time.gmtime(start)),
        "end": time.strftime(iso, time.gmtime(start + 3600))})
    rid = ((r.json or {}).get("data") or {}).get("id")
    is_(r.status, 200, "a reservation a day ahead, for parkctl tick")
    # 31 minutes past its start: the grace (30 min) is over
    back = int(time.time()) - 31 * 60 - start
    pg_d = "make_interval(secs => ?1)"
    P.db_write(s, ("UPDATE reservations SET start_time = start_time + ?1,"
                   " end_time = end_time + ?1, hold_start = hold_start + ?1,"
                   " hold_end = hold_end + ?1, parking_ts = parking_ts + ?1"
                   " WHERE id = ?2", (back, rid),
                   "UPDATE reservations SET start_time = start_time + %s,"
                   " end_time = end_time + %s, hold_start = hold_start + %s,"
                   " hold_end = hold_end + %s, parking_ts = parking_ts + %s"
                   " WHERE id = ?2" % ((pg_d,) * 5)))
    _, m0 = scrape(s)
    p = s.parkctl("tick")
    ok(p.returncode == 0 and "1 no-show" in p.stdout + p.stderr,
       "parkctl tick marks it a no-show", p.stdout + p.stderr)
    c = P.dbconn(s)
    try:
        st, cost = c.execute("SELECT status, cost_cents FROM reservations"
                             " WHERE id = ?", (rid,)).fetchone()
    finally:
        c.close()
    ok(st == "no_show" and cost > 0, "charged %r cents" % cost)
    _, m1 = scrape(s)
    is_(delta(m0, m1, 'parkd_reservations_total{outcome="no_show"}'), 1,
        "parkctl tick's no-show: parkd_reservations_total{outcome="
        "\"no_show\"} + 1")
    is_(delta(m0, m1, "parkd_revenue_cents_total"), cost,
        "and the revenue + its charge (%r cents)" % cost)

    keys = ["resv-m-%d" % i for i in range(5)]
    P.db_write(s, *[("INSERT INTO outbox (idem_key, to_addr, subject,"
                     " body_text, state, next_attempt_at, created_at)"
                     " VALUES (?, 'a@b.test', 's', 'b', ?, 0, 0)",
                     (k, "failed" if i < 3 else "sent"),
                     "INSERT INTO outbox (idem_key, to_addr, subject,"
                     " body_text, state, next_attempt_at, created_at)"
                     " VALUES (?, 'a@b.test', 's', 'b', ?, to_timestamp(0),"
                     " to_timestamp(0))")
                    for i, k in enumerate(keys)])
    _, m2 = scrape(s)
    is_([delta(m1, m2, 'parkd_outbox_messages{state="%s"}' % x)
         for x in ("failed", "sent")], [3, 2],
        "3 failed and 2 sent e-mails counted (014's triggers)")
    P.db_write(s, ("UPDATE outbox SET state = 'sent' WHERE idem_key = ?",
                   (keys[0],)),
               ("DELETE FROM outbox WHERE idem_key = ?", (keys[1],)))
    _, m3 = scrape(s)
    is_([delta(m1, m3, 'parkd_outbox_messages{state="%s"}' % x)
         for x in ("failed", "sent")], [1, 3],
        "one failed one now sent, one deleted: 1 failed, 3 sent")
    c = P.dbconn(s)
    try:
        db = [c.execute("SELECT count(*) FROM outbox WHERE state = ?",
                        (x,)).fetchone()[0] for x in ("failed", "sent")]
    finally:
        c.close()
    is_([m3.get('parkd_outbox_messages{state="%s"}' % x)
         for x in ("failed", "sent")], db, "as the table counts them %r"
        % (db,))


def main():
    if not os.access(PROMTOOL, os.X_OK):
        T.bail_out("%s is missing (Debian's prometheus package; dev/lib.sh "
                   "installs it)" % PROMTOOL)
    # A body cap below nginx's, so that parkd itself answers a 413.
    with T.Stack(workers=WORKERS, settings={"PARKD_MAX_BODY": "1024"}) as s:
        lot = P.create_lot(s, number_of_spots=2, price=10)["id"]
        u = P.make_user(s, "metricsuser", 7)
        free_key = 'parkd_lot_free_spots{lot="%d"}' % lot

        r, m0 = scrape(s)
        is_(r.status, 200, "GET /metrics: 200")
        is_(r.headers.get("content-type"),
            "text/plain; version=0.0.4; charset=utf-8",
            "the text format 0.0.4")
        check_format(r.text)
        check_parser(r.text)
        is_(m0.get("parkd_workers"), WORKERS, "parkd_workers is %d"
            % WORKERS)
        is_(m0.get(free_key), 2, "the new lot has 2 free spots")
        backend = "postgresql" if T.use_pg() else "sqlite"
        is_(m0.get('parkd_db_up{backend="%s"}' % backend), 1,
            "parkd_db_up{backend=\"%s\"} 1" % backend)
        is_(sorted(k for k in m0 if k.startswith("parkd_db_up")),
            ['parkd_db_up{backend="%s"}' % backend],
            "  no other back end named")
        is_(sorted(k for k in m0 if k.startswith("parkd_db_busy_")
                   and 'lock="queue"' not in k),
            ['parkd_db_busy_timeouts_total{lock="%s"}' % backend,
             'parkd_db_busy_waits_total{lock="%s"}' % backend],
            "  the write lock's waits are named by the back end")

        # ---- the traffic ----
        # m0's own scrape is counted before its answer is sent, after it
        # was written: the next scrape counts it.
        sent = 1
        for _ in range(30):
            s.req("GET", "/api/health")
        sent += 30
        for path in ("/api/nope", "/api/admin/nope/1"):
            is_(s.req("GET", path).status, 404, "GET %s: 404" % path)
        sent += 2
        r = s.req("POST", "/api/auth/login", "username=a",
                  {"Content-Type": "text/plain"})
        is_(r.status, 415, "a text/plain body: 415")
        r = s.req("POST", "/api/auth/login", {"username": "x" * 2000,
                                              "password": "y"})
        is_(r.status, 413, "a body past PARKD_MAX_BODY: 413 from parkd")
        r = s.req("POST", "/api/auth/login", '{"username": ',
                  {"Content-Type": "application/json"})
        is_(r.status, 400, "a broken JSON body: 400")
        sent += 3
        r = s.req("GET", "/metrics", source="127.0.0.2")
        is_((r.status, (r.json or {}).get("code")), (403, "FORBIDDEN"),
            "GET /metrics from 127.0.0.2: nginx's 403")

        r = u.req("POST", "/api/user/pkl/book/%d" % lot,
                  {"vehicle_number": "MX1"})
        is_(r.status, 200, "a booking")
        rid = (r.json or {}).get("data", {}).get("id")
        sent += 1
        r, mb = scrape(s)
        sent += 1
        is_(mb.get(free_key), 1, "while it is parked: 1 free spot")
        is_(mb.get('parkd_reservations_open{state="active"}'), 1,
            "1 active reservation")
        r = u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
        is_(r.status, 200, "its release")
        cost = round(((r.json or {}).get("data") or {}).get(
            "parking_cost", 0) * 100)
        sent += 1
        start = (int(time.time()) // 900 + 96) * 900
        iso = "%Y-%m-%dT%H:%M:%SZ"
        r = u.req("POST", "/api/user/pkl/reserve/%d" % lot, {
            "start": time.strftime(iso, time.gmtime(start)),
            "end": time.strftime(iso, time.gmtime(start + 3600))})
        is_(r.status, 200, "a reservation a day ahead")
        r = u.req("POST", "/api/user/pkl/cancel", {
            "reservation_id": ((r.json or {}).get("data") or {}).get("id")})
        is_(r.status, 200, "cancelled")
        sent += 2

        r, m1 = scrape(s)
        is_(delta(m0, m1, req_key("/api/health", "GET", "2xx")), 30,
            "30 health checks counted (route pattern, method, class)")
        is_(delta(m0, m1, 'parkd_http_request_duration_seconds_count'
                  '{route="/api/health"}'), 30,
            "30 in the health route's latency histogram")
        is_(delta(m0, m1, req_key("unmatched", "GET", "4xx")), 2,
            "2 unknown paths: route=\"unmatched\", never the raw path")
        ok("/api/nope" not in r.text, "no raw path in any label")
        is_(delta(m0, m1, req_key("/api/auth/login", "POST", "4xx")), 3,
            "3 refused bodies on the login route")
        for reason in ("too_large", "media_type", "invalid"):
            is_(delta(m0, m1, 'parkd_http_bodies_refused_total{reason="%s"}'
                      % reason), 1, "bodies refused, %s: 1" % reason)
        is_(delta(m0, m1, req_key("/metrics", "GET", "2xx")), 2,
            "the 2 scrapes before this one, m0 included (nginx's 403 never "
            "reached parkd)")
        total = sum(delta(m0, m1, k) for k in set(m0) | set(m1)
                    if k.startswith("parkd_http_requests_total{"))
        is_(total, sent, "every request counter together moved by the %d "
            "requests sent, no more" % sent)
        if total != sent:
            diag(*["  %s +%d" % (k, delta(m0, m1, k)) for k in
                   sorted(set(m0) | set(m1)) if k.startswith(
                       "parkd_http_requests_total{") and delta(m0, m1, k)])
        is_(delta(m0, m1, "parkd_http_server_errors_total"), 0, "no 5xx")
        is_(delta(m0, m1, "parkd_bookings_total"), 1, "bookings: 1")
        is_(delta(m0, m1, "parkd_releases_total"), 1, "releases: 1")
        ok(cost > 0, "the release cost something (%d cents)" % cost)
        is_(delta(m0, m1, "parkd_revenue_cents_total"), cost,
            "revenue: the release's cost in cents")
        for outcome, n in (("made", 1), ("cancelled", 1), ("checked_in", 0),
                           ("no_show", 0)):
            is_(delta(m0, m1, 'parkd_reservations_total{outcome="%s"}'
                      % outcome), n, "reservations %s: %d" % (outcome, n))
        is_(m1.get(free_key), 2, "after the release: 2 free spots")
        is_(m1.get('parkd_reservations_open{state="active"}'), 0,
            "no active reservation")
        ok(delta(m0, m1, "parkd_db_transaction_duration_seconds_count") >= 4,
           "write transactions timed (%d)" % delta(
               m0, m1, "parkd_db_transaction_duration_seconds_count"))
        for job in ("exports", "mail", "remind", "tick", "report",
                    "cleanup"):
            ok('parkd_job_last_success_timestamp_seconds{parkctl_job="%s"}'
               % job in m1, "the last good run of parkctl %s is shown "
               "(label parkctl_job: job is the scrape target's)" % job)
        ok(not re.search(r'[{,]job="', r.text), "no sample has a label "
           "job (Prometheus would store it as exported_job)")
        c = P.dbconn(s)
        try:
            queued = c.execute("SELECT count(*) FROM outbox WHERE state ="
                               " 'queued'").fetchone()[0]
        finally:
            c.close()
        is_(m1.get('parkd_outbox_messages{state="queued"}'), queued,
            "the outbox's queued mail, as the database counts it (%d)"
            % queued)

        # ---- every worker shows the same totals ----
        keep = [k for k in m1 if k.startswith(("parkd_http_requests_total",
                                               "parkd_bookings", "parkd_rel",
                                               "parkd_revenue"))
                and "/metrics" not in k]
        views = []
        for _ in range(6):
            views.append(tuple(scrape(s)[1].get(k) for k in keep))
        ok(len(set(views)) == 1 and views[0] == tuple(m1.get(k)
                                                      for k in keep),
           "6 scrapes in a row (any worker) show the same totals")

        # ---- a worker killed: the totals stay ----
        pids = s.worker_pids()
        is_(len(pids), WORKERS, "%d workers" % WORKERS)
        os.kill(pids[0], signal.SIGKILL)
        new, waited = s.wait_workers(WORKERS, timeout=5 * T.SLOW,
                                     not_in=[pids[0]])
        ok(new is not None, "the supervisor replaced the killed worker "
           "(%.2f s)" % waited)
        r, m2 = scrape(s)
        same = [k for k in keep if m2.get(k) != m1.get(k)]
        ok(r.status == 200 and not same, "after the SIGKILL every total is "
           "unchanged (%d series)" % len(keep),
           *["  %s: %r -> %r" % (k, m1.get(k), m2.get(k)) for k in same])
        is_(delta(m1, m2, 'parkd_worker_exits_total{how="crashed"}'), 1,
            "the death counted as a crash")
        is_(delta(m1, m2, "parkd_worker_starts_total"), 1,
            "its replacement counted as a start")
        is_(m2.get("parkd_workers"), WORKERS, "parkd_workers back to %d"
            % WORKERS)
        is_(m2.get("parkd_http_requests_in_flight"), 1,
            "in flight: this scrape only (the dead worker's slot freed)")

        # ---- parkd's own allow list, across reloads ----
        def reload(**settings):
            old = s.worker_pids()
            s.write_settings(**settings)
            s.signal_parkd(signal.SIGHUP)
            pids, _ = s.wait_workers(WORKERS, timeout=15 * T.SLOW,
                                     not_in=old)
            return pids is not None

        ok(reload(PARKD_METRICS_ALLOW="10.0.0.0/8, ::1"),
           "reload with PARKD_METRICS_ALLOW=10.0.0.0/8, ::1")
        r = s.req("GET", "/metrics")
        is_((r.status, (r.json or {}).get("code")), (403, "FORBIDDEN"),
            "127.0.0.1 through nginx, not in parkd's list: parkd's 403")
        ok(reload(PARKD_METRICS_ALLOW=""), "reload with an empty list")
        is_(s.req("GET", "/metrics").status, 404, "metrics off: 404")
        ok(reload(PARKD_METRICS_ALLOW="127.0.0.0/8 ::1"),
           "reload with PARKD_METRICS_ALLOW=127.0.0.0/8 ::1")
        r, m3 = scrape(s)
        is_(r.status, 200, "served again")
        same = [k for k in keep if m3.get(k) != m1.get(k)]
        ok(not same, "after three reloads (new workers) the totals stay",
           *["  %s: %r -> %r" % (k, m1.get(k), m3.get(k)) for k in same])
        is_(delta(m2, m3, "parkd_worker_starts_total"), 3 * WORKERS,
            "3 generations of %d workers started" % WORKERS)
        is_(delta(m2, m3, 'parkd_worker_exits_total{how="exited"}'),
            3 * WORKERS, "and as many exited")
        is_(delta(m2, m3, req_key("/metrics", "GET", "4xx")), 2,
            "parkd's 403 and 404 are counted")
        check_totals(s, lot, u, m3)
        check_rules(m3)
        diag("scrape: %d bytes, %d samples" % (len(r.body), len(m3)))


T.run(main)
