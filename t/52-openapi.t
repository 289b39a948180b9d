#!/usr/bin/env python3
"""52-openapi.t: docs/openapi.yaml describes exactly the route table.

The route table comes from the built program ("parkctl api routes": method,
pattern, access) and, for what parkctl does not print (handler, input
fields), from src/routes.c itself; each handler's statuses come from its
comment ("Statuses: 200, 400, ..."), as STYLE.md asks.  Checked both ways:

* every route is documented under the same method and path (a {name} in
  the file stands for the table's {id} or {s}), with the same x-access, its
  handler as operationId, the right security, its path and query
  parameters and request body (names, types, required, nullable, bounds no
  wider than the table's), a 200, every status its handler's comment lists
  and those the front line adds (400/413/415 for bodies, 400 for query
  fields, 404 for path ids, 401/403/503 for protected routes), each error
  answered with the error envelope;
* every documented operation is a route.

And, cheaply, that the file is a JSON-compatible document: the YAML subset
it is written in parses, every key is a string, every $ref resolves, every
component is used, the required components exist, and info.version is the
program's version.

No PyYAML (not in the standard library): a small parser below reads the
subset of YAML that docs/openapi.yaml's header comment allows.

Environment: abs_top_builddir (parkctl), abs_top_srcdir (docs/, src/);
OPENAPI_YAML names another file to check (to prove the test fails on a
broken copy).
"""

import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

SRCDIR = T.SRCDIR
YAML_FILE = os.environ.get("OPENAPI_YAML") or os.path.join(
    SRCDIR, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
ACCESS = ("anonymous", "refresh", "any", "user", "admin", "link")
REQUIRED_SCHEMAS = ("Envelope", "Error", "User", "AdminUser", "Tokens",
                    "Health")


# ---- a parser for the YAML subset of docs/openapi.yaml ----------------------

class YamlError(Exception):
    pass


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def _plain(text, lineno):
    """The value of a plain scalar."""
    if text == "" or text == "~" or text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.lower() in ("yes", "no", "on", "off", "y", "n", "true", "false",
                        "null"):
        raise YamlError("line %d: %r reads differently in YAML 1.1 and 1.2: "
                        "quote it" % (lineno, text))
    if text[0] in "&*!|>%@`?":
        raise YamlError("line %d: %r: anchors, aliases, tags and reserved "
                        "indicators are not in the subset" % (lineno, text))
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _quoted(text, i, lineno):
    """Reads the quoted scalar starting at text[i]; returns (value, end)."""
    q = text[i]
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if q == "'" and c == "'":
            if text[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if q == '"' and c == '"':
            return "".join(out), i + 1
        if q == '"' and c == "\\":
            e = text[i + 1:i + 2]
            simple = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t",
                      "r": "\r", "0": "\0", " ": " "}
            if e in simple:
                out.append(simple[e])
                i += 2
                continue
            if e == "u" and re.match(r"[0-9a-fA-F]{4}$", text[i + 2:i + 6]):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            raise YamlError("line %d: bad escape \\%s" % (lineno, e))
        out.append(c)
        i += 1
    raise YamlError("line %d: unterminated %s-quoted string" % (lineno, q))


def _after_value(text, i, lineno):
    """Only blanks and a comment may follow a quoted or flow value."""
    rest = text[i:]
    if rest.strip() and not rest.lstrip().startswith("#"):
        raise YamlError("line %d: unexpected %r after a value"
                        % (lineno, rest.strip()))
    if rest.strip() and not rest.startswith((" ", "\t")):
        raise YamlError("line %d: a comment needs a blank before #" % lineno)


def _strip_comment(text):
    """Cuts a " #" comment off a plain scalar."""
    m = re.search(r"(^|[ \t])#", text)
    return (text[:m.start()] if m else text).rstrip()


def _flow(text, i, lineno):
    """Reads a flow collection or scalar at text[i]; returns (value, end)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        raise YamlError("line %d: unterminated flow collection" % lineno)
    c = text[i]
    if c in "[{":
        close = "]" if c == "[" else "}"
        coll = [] if c == "[" else {}
        i += 1
        while True:
            while i < len(text) and text[i] == " ":
                i += 1
            if text[i:i + 1] == close:
                return coll, i + 1
            if c == "[":
                v, i = _flow(text, i, lineno)
                coll.append(v)
            else:
                k, i = _flow(text, i, lineno)
                while i < len(text) and text[i] == " ":
                    i += 1
                if text[i:i + 1] != ":":
                    raise YamlError("line %d: expected ':' in a flow map"
                                    % lineno)
                v, i = _flow(text, i + 1, lineno)
                if not isinstance(k, str):
                    raise YamlError("line %d: flow map key %r is not a "
                                    "string" % (lineno, k))
                if k in coll:
                    raise YamlError("line %d: duplicate key %r"
                                    % (lineno, k))
                coll[k] = v
            while i < len(text) and text[i] == " ":
                i += 1
            if text[i:i + 1] == ",":
                i += 1
            elif text[i:i + 1] != close:
                raise YamlError("line %d: expected ',' or '%s' in a flow "
                                "collection" % (lineno, close))
    if c in "'\"":
        return _quoted(text, i, lineno)
    m = re.compile(r"[^,\[\]{}:]*(?::(?! )[^,\[\]{}:]*)*").match(text, i)
    return _plain(m.group(0).strip(), lineno), m.end()


class _Parser:
    def __init__(self, text):
        self.lines = text.split("\n")
        self.i = 0
        for n, line in enumerate(self.lines, 1):
            if line.strip() and "\t" in line[:len(line) - len(
                    line.lstrip(" \t"))]:
                raise YamlError("line %d: a tab in the indentation" % n)
            if line.startswith(("---", "...", "%")):
                raise YamlError("line %d: directives and document markers "
                                "are not in the subset" % n)

    def peek(self):
        """(indent, content) of the next line that holds something."""
        while self.i < len(self.lines):
            line = self.lines[self.i].rstrip()
            s = line.lstrip(" ")
            if s and not s.startswith("#"):
                return len(line) - len(s), s
            self.i += 1
        return None

    def node(self, indent):
        ind, s = self.peek()
        if s == "-" or s.startswith("- "):
            return self.seq(ind)
        return self.map(ind)

    def key(self, s, lineno):
        """Splits "key: rest"; returns (key, rest) or None."""
        if s[0] in "'\"":
            k, end = _quoted(s, 0, lineno)
            if s[end:end + 1] != ":" or s[end + 1:end + 2] not in ("", " "):
                return None
            return k, s[end + 1:].strip()
        if s[0] in "[{":
            return None
        m = re.match(r"^(.*?):( |$)", s)
        if m is None:
            return None
        k = _plain(m.group(1).strip(), lineno)
        return k, s[m.end():].strip()

    def map(self, indent):
        d = {}
        while True:
            pk = self.peek()
            if pk is None or pk[0] < indent:
                return d
            ind, s = pk
            lineno = self.i + 1
            if ind > indent:
                raise YamlError("line %d: unexpected indentation" % lineno)
            if s == "-" or s.startswith("- "):
                raise YamlError("line %d: a list item where a key was "
                                "expected (indent lists under their key)"
                                % lineno)
            kv = self.key(s, lineno)
            if kv is None:
                raise YamlError("line %d: expected 'key: value', got %r"
                                % (lineno, s))
            k, rest = kv
            if not isinstance(k, str):
                raise YamlError("line %d: key %r is not a string (quote it)"
                                % (lineno, k))
            if k in d:
                raise YamlError("line %d: duplicate key %r" % (lineno, k))
            self.i += 1
            d[k] = self.value(rest, indent, lineno)

    def seq(self, indent):
        items = []
        while True:
            pk = self.peek()
            if pk is None or pk[0] < indent:
                return items
            ind, s = pk
            lineno = self.i + 1
            if ind > indent:
                raise YamlError("line %d: unexpected indentation" % lineno)
            if not (s == "-" or s.startswith("- ")):
                return items
            rest = s[1:].strip()
            if rest and rest[0] not in "[{" and self.key(rest, lineno):
                # "- key: value": a map whose first line is this one.
                self.lines[self.i] = " " * (indent + 2) + rest
                items.append(self.map(indent + 2))
                continue
            self.i += 1
            items.append(self.value(rest, indent, lineno))

    def value(self, rest, indent, lineno):
        """The value after "key:" or "-" on a line of this indent."""
        if rest == "" or rest.startswith("#"):
            pk = self.peek()
            if pk is not None and pk[0] > indent:
                return self.node(pk[0])
            return None
        if re.match(r"^[|>][-+]?( +#.*)?$", rest):
            return self.block(rest[0], rest[1:2], indent)
        # A value may go on over more-indented lines (a flow collection,
        # a quoted string, a plain scalar): gather them.
        text = rest
        while True:
            nxt = self.i
            if nxt >= len(self.lines):
                break
            line = self.lines[nxt]
            s = line.lstrip(" ")
            if not s or len(line) - len(s) <= indent:
                break
            if rest[0] not in "[{'\"" and s.startswith("#"):
                break
            text += " " + s.rstrip()
            self.i += 1
        if text[0] in "[{'\"":
            v, end = _flow(text, 0, lineno)
            _after_value(text, end, lineno)
            return v
        plain = _strip_comment(text)
        if ": " in plain or plain.endswith(":"):
            raise YamlError("line %d: a plain value holds ': ' (quote it): %r"
                            % (lineno, plain))
        return _plain(plain, lineno)

    def block(self, style, chomp, indent):
        lines = []
        bind = None
        while self.i < len(self.lines):
            line = self.lines[self.i].rstrip()
            s = line.lstrip(" ")
            if s:
                ind = len(line) - len(s)
                if bind is None:
                    if ind <= indent:
                        break
                    bind = ind
                if ind < bind:
                    break
                lines.append(line[bind:])
            else:
                lines.append("")
            self.i += 1
        while lines and lines[-1] == "":
            lines.pop()
        if style == "|":
            text = "\n".join(lines)
        else:
            out, para = [], []
            for line in lines:
                if line == "" or line.startswith(" "):
                    if para:
                        out.append(" ".join(para))
                        para = []
                    out.append(line)
                else:
                    para.append(line)
            if para:
                out.append(" ".join(para))
            text = "\n".join(out)
        return text if chomp == "-" or not text else text + "\n"


def parse_yaml(text):
    p = _Parser(text)
    if p.peek() is None:
        raise YamlError("the file is empty")
    doc = p.node(0)
    if p.peek() is not None:
        raise YamlError("line %d: unexpected text after the document"
                        % (p.i + 1))
    return doc


# ---- the route table ---------------------------------------------------------

def parkctl_routes():
    """[(METHOD, pattern, access)] from "parkctl api routes"."""
    r = subprocess.run([T.PARKCTL, "api", "routes"], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("parkctl api routes: exit %d: %s"
                           % (r.returncode, r.stderr.strip()))
    rows = []
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            raise RuntimeError("parkctl api routes: bad line %r" % line)
        rows.append(tuple(parts))
    return rows


def c_strip_comments(src):
    """The C text without comments, string literals kept."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def c_args(text, i):
    """Splits the arguments of the call whose "(" is at text[i]; returns
    (args, end)."""
    args, depth, cur, j = [], 0, [], i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            k = j + 1
            while text[k] != '"':
                k += 2 if text[k] == "\\" else 1
            cur.append(text[j:k + 1])
            j = k + 1
            continue
        if c in "({":
            depth += 1
        elif c in ")}":
            if depth == 0:
                args.append("".join(cur).strip())
                return args, j + 1
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            j += 1
            continue
        cur.append(c)
        j += 1
    raise ValueError("unbalanced parentheses")


def c_string(arg):
    """The value of a C string literal (adjacent literals joined)."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', arg)
    if not parts:
        raise ValueError("not a string literal: %r" % arg)
    return "".join(parts)


def c_number(arg):
    """The value of a simple integer expression, or None."""
    e = re.sub(r"(?<=[0-9])[uU]?[lL]{0,2}\b", "", arg.strip())
    if not re.match(r"^[-+*/() 0-9]+$", e):
        return None
    try:
        return int(eval(e, {"__builtins__": {}}))  # digits and operators only
    except Exception:
        return None


def routes_c():
    """From src/routes.c: {(METHOD, pattern): {handler, fields}} where fields
    is a list of dicts (name, type, src, required, min, max, nullable)."""
    with open(os.path.join(SRCDIR, "src", "routes.c")) as f:
        src = c_strip_comments(f.read())
    tables = {}
    for m in re.finditer(r"struct\s+field\s+(\w+)\s*\[\s*\]\s*=\s*\{", src):
        body_end = src.index("};", m.end())
        rows = []
        for row in re.finditer(r"\{", src[m.end():body_end]):
            args, _ = c_args(src, m.end() + row.start())
            if len(args) != 8:
                raise ValueError("%s: a row of %d values, not 8: %s"
                                 % (m.group(1), len(args), args))
            rows.append({
                "name": c_string(args[0]), "type": args[1], "src": args[2],
                "required": args[3] not in ("0", ""),
                "min": c_number(args[4]), "max": c_number(args[5]),
                "nullable": args[7] not in ("0", ""),
            })
        tables[m.group(1)] = rows
    m = re.search(r"struct\s+route\s+routes\s*\[\s*\]\s*=\s*\{", src)
    if m is None:
        raise ValueError("no routes[] table")
    end = src.index("};", m.end())
    routes = {}
    # ROUTEV, ROUTE0V: the same, open to an unverified address
    for call in re.finditer(r"\b(ROUTE0?)V?\s*\(", src[m.end():end]):
        args, _ = c_args(src, m.end() + call.end() - 1)
        method = re.sub(r"^M_", "", args[0])
        pattern = c_string(args[1])
        fields = []
        if call.group(1) == "ROUTE":
            if args[4] not in tables:
                raise ValueError("unknown field table %s" % args[4])
            fields = tables[args[4]]
        routes[(method, pattern)] = {"handler": args[3], "fields": fields,
                                     "access": args[2]}
    return routes


def handler_statuses():
    """{handler: set of statuses} from the comments above the handlers in
    src/*.c ("Statuses: 200, 400 (why), 503.")."""
    found = {}
    for path in glob.glob(os.path.join(SRCDIR, "src", "*.c")):
        with open(path) as f:
            src = f.read()
        for m in re.finditer(r"/\*((?:(?!\*/).)*)\*/\s*\nvoid\s*\n(\w+)\(",
                             src, re.S):
            text = " ".join(
                line.strip().lstrip("*") for line in m.group(1).splitlines())
            s = re.search(r"Statuses:(.*?)(\.\s|\.$|$)",
                          re.sub(r"\([^)]*\)", "", text), re.S)
            if s:
                found[m.group(2)] = {int(x) for x in
                                     re.findall(r"\b[1-5][0-9][0-9]\b",
                                                s.group(1))}
            else:
                found.setdefault(m.group(2), None)
    return found


# ---- checks of the document ------------------------------------------------

def walk(node, path=""):
    """Yields (json-pointer, node) for every node."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + "/" + str(k).replace(
                "~", "~0").replace("/", "~1"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def pointer(doc, ref):
    """The node a local $ref names, or raises KeyError."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise KeyError(ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and \
                int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


def deref(doc, node, seen=0):
    """Follows $ref until a node without one."""
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        node = pointer(doc, node["$ref"])
        seen += 1
    return node


def non_string_keys(node, path=""):
    bad = []
    for p, n in walk(node):
        if isinstance(n, dict):
            bad += ["%s: key %r" % (p, k) for k in n if not isinstance(k, str)]
    return bad


def check_document(doc, version):
    ok(isinstance(doc, dict), "the document is a mapping")
    bad = non_string_keys(doc)
    ok(not bad, "every key is a string (JSON-compatible)", *bad[:20])
    try:
        json.dumps(doc, allow_nan=False)
        ok(True, "the document converts to JSON")
    except (TypeError, ValueError) as e:
        ok(False, "the document converts to JSON", str(e))
    is_(doc.get("openapi"), "3.0.3", "openapi: 3.0.3")
    info = doc.get("info") or {}
    ok(isinstance(info.get("title"), str) and info.get("title"),
       "info.title is set")
    is_(info.get("version"), version,
        "info.version is the program's version (parkctl -V)")
    desc = info.get("description") or ""
    missing = [w for w in ("ISO 8601", "2 decimals", "X-Request-Id", "CORS")
               if w not in desc]
    ok(not missing, "info.description states the conventions",
       *["  missing: %s" % w for w in missing])

    comps = doc.get("components") or {}
    schemas = comps.get("schemas") or {}
    missing = [s for s in REQUIRED_SCHEMAS if s not in schemas]
    ok(not missing, "components.schemas has %s" % ", ".join(REQUIRED_SCHEMAS),
       *["  missing: %s" % s for s in missing])
    bearer = (comps.get("securitySchemes") or {}).get("bearer") or {}
    ok(bearer.get("type") == "http" and bearer.get("scheme") == "bearer"
       and bearer.get("bearerFormat") == "JWT",
       "securitySchemes.bearer is HTTP bearer JWT", "  got: %r" % (bearer,))
    err = schemas.get("Error") or {}
    props = err.get("properties") or {}
    ok(set(props) == {"success", "error", "message", "code", "details"} and
       set(err.get("required") or []) == {"success", "error", "message",
                                          "code"} and
       (props.get("success") or {}).get("enum") == [False],
       "Error is {success: false, error, message, code, details} "
       "(message for old clients, #15)")
    # The reservation object keeps the old backend's keys (#15 item 3).
    resv = schemas.get("Reservation") or {}
    rprops = resv.get("properties") or {}
    old = {"is_completed": "boolean", "is_overdue": "boolean",
           "expected_leaving_time": None, "vehicle_model": "string",
           "vehicle_color": "string"}
    bad = [k for k, t in old.items() if k not in rprops or
           k not in (resv.get("required") or []) or
           (t and (rprops[k] or {}).get("type") != t)]
    bad += [k for k in ("vehicle_model", "vehicle_color")
            if k in rprops and not rprops[k].get("nullable")]
    pc = rprops.get("parking_cost") or {}
    if pc.get("nullable"):
        bad.append("parking_cost is nullable (0.0 while active, #15)")
    ok(not bad, "Reservation lists the old keys with their old types, "
       "parking_cost never null", *["  %s" % k for k in bad])
    desc_req = (info.get("description") or "")
    ok("ignored" in desc_req and "additionalProperties: true" in desc_req,
       "info.description says unknown members are ignored "
       "(additionalProperties: true)")
    env = schemas.get("Envelope") or {}
    ok(set((env.get("properties") or {})) == {"success", "message", "data"}
       and (env.get("properties", {}).get("success") or {}).get("enum")
       == [True], "Envelope is {success: true, message, data}")

    bad, used = [], set()
    for p, n in walk(doc):
        if isinstance(n, dict) and "$ref" in n:
            used.add(n["$ref"])
            try:
                pointer(doc, n["$ref"])
            except KeyError:
                bad.append("%s: $ref %r points nowhere" % (p, n["$ref"]))
            if len(n) > 1 and not p.startswith("/components/schemas") \
                    and "/schema" not in p:
                bad.append("%s: keys beside $ref are ignored: %s"
                           % (p, sorted(set(n) - {"$ref"})))
    ok(not bad, "every $ref points to an existing component", *bad[:30])
    unused = []
    for kind, members in comps.items():
        if kind == "securitySchemes" or not isinstance(members, dict):
            continue
        unused += ["#/components/%s/%s" % (kind, name) for name in members
                   if "#/components/%s/%s" % (kind, name) not in used]
    ok(not unused, "every component is used", *unused)


# ---- routes against operations -----------------------------------------------

def norm(path):
    """/api/x/{lot_id}/y -> /api/x/{}/y, for both the file and the table."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


def field_type(f):
    return {"FT_STR": "string", "FT_INT": "integer", "FT_BOOL": "boolean",
            "FT_MONEY": "number"}.get(f["type"], f["type"])


def check_field(doc, where, f, schema, problems):
    """One input field against its documented schema."""
    s = deref(doc, schema or {})
    want = field_type(f)
    if s.get("type") != want:
        problems.append("%s %s: type %r, the table says %s"
                        % (where, f["name"], s.get("type"), want))
    if bool(s.get("nullable")) != f["nullable"]:
        problems.append("%s %s: nullable %r, the table says %r"
                        % (where, f["name"], bool(s.get("nullable")),
                           f["nullable"]))
    scale = 100 if f["type"] == "FT_MONEY" else 1
    if f["type"] in ("FT_INT", "FT_MONEY"):
        lo, hi = s.get("minimum"), s.get("maximum")
    elif f["type"] == "FT_STR":
        lo, hi = s.get("minLength"), s.get("maxLength")
    else:
        return
    for name, got, tab, wider in (("min", lo, f["min"], lambda a, b: a < b),
                                  ("max", hi, f["max"], lambda a, b: a > b)):
        if tab is None:
            continue
        tab = tab / scale if scale != 1 else tab
        if f["type"] != "FT_STR" and got != tab:
            problems.append("%s %s: %s %r, the table says %r"
                            % (where, f["name"], name, got, tab))
        elif got is not None and wider(got, tab):
            problems.append("%s %s: %s %r is wider than the table's %r"
                            % (where, f["name"], name, got, tab))
    if f["type"] == "FT_STR" and hi is None and "enum" not in s:
        problems.append("%s %s: no maxLength (the table's is %r)"
                        % (where, f["name"], f["max"]))


def check_inputs(doc, op, route, pattern, problems):
    fields = route["fields"]
    # Path parameters: one per {name}, typed like the table's {id} / {s}.
    params = [deref(doc, p) for p in op.get("parameters") or []]
    names = re.findall(r"\{([^}/]+)\}", op["_path"])
    kinds = re.findall(r"\{([^}/]+)\}", pattern)
    pp = {p.get("name"): p for p in params if p.get("in") == "path"}
    if sorted(pp) != sorted(names):
        problems.append("path parameters %s, the path names %s"
                        % (sorted(pp), names))
    for name, kind in zip(names, kinds):
        p = pp.get(name) or {}
        want = "integer" if kind == "id" else "string"
        if p.get("required") is not True or \
                (p.get("schema") or {}).get("type") != want:
            problems.append("path parameter %s: must be required, type %s"
                            % (name, want))
    # Query parameters: the table's FS_QUERY fields.
    qp = {p.get("name"): p for p in params if p.get("in") == "query"}
    qf = {f["name"]: f for f in fields if f["src"] == "FS_QUERY"}
    if sorted(qp) != sorted(qf):
        problems.append("query parameters %s, the table has %s"
                        % (sorted(qp), sorted(qf)))
    for name in set(qp) & set(qf):
        if bool(qp[name].get("required")) != qf[name]["required"]:
            problems.append("query %s: required %r, the table says %r"
                            % (name, bool(qp[name].get("required")),
                               qf[name]["required"]))
        check_field(doc, "query", qf[name], qp[name].get("schema"), problems)
    other = [p.get("in") for p in params if p.get("in") not in
             ("path", "query")]
    if other:
        problems.append("parameters in %s: the table has none" % other)
    # The body: the table's FS_BODY fields, nothing else.
    bf = {f["name"]: f for f in fields if f["src"] == "FS_BODY"}
    rb = op.get("requestBody")
    if not bf:
        if rb is not None:
            problems.append("a requestBody, but the table has no body field")
        return
    if rb is None:
        problems.append("no requestBody; the table has %s" % sorted(bf))
        return
    rb = deref(doc, rb)
    schema = deref(doc, ((rb.get("content") or {}).get("application/json")
                         or {}).get("schema") or {})
    # Unknown members are ignored, never rejected (#15 item 1).
    if schema.get("type") != "object" or \
            schema.get("additionalProperties") is not True:
        problems.append("the body schema must be an object with "
                        "additionalProperties: true")
    props = schema.get("properties") or {}
    if sorted(props) != sorted(bf):
        problems.append("body properties %s, the table has %s"
                        % (sorted(props), sorted(bf)))
    req = sorted(n for n, f in bf.items() if f["required"])
    if sorted(schema.get("required") or []) != req:
        problems.append("body required %s, the table says %s"
                        % (sorted(schema.get("required") or []), req))
    if bool(rb.get("required")) != bool(req):
        problems.append("requestBody.required is %r; the body has %s "
                        "required field" % (bool(rb.get("required")),
                                            "a" if req else "no"))
    for name in set(props) & set(bf):
        check_field(doc, "body", bf[name], props[name], problems)


def error_schema_ok(doc, resp):
    """The response's JSON schema is the Error envelope."""
    try:
        r = deref(doc, resp)
        s = ((r.get("content") or {}).get("application/json") or {}).get(
            "schema") or {}
        return s.get("$ref") == "#/components/schemas/Error"
    except KeyError:
        return False


def success_schema_ok(doc, resp):
    """The 200 is the success envelope (itself, or allOf with it), or a
    file: a CSV and nothing else (the export download), or text and
    nothing else (GET /metrics)."""
    try:
        r = deref(doc, resp)
        content = r.get("content") or {}
        if list(content) in (["text/csv"], ["text/plain"]):
            return True
        s = (content.get("application/json") or {}).get("schema") or {}
    except KeyError:
        return False
    refs = [s.get("$ref")] + [x.get("$ref") for x in s.get("allOf") or []
                              if isinstance(x, dict)]
    return "#/components/schemas/Envelope" in refs


def check_operation(doc, method, pattern, access, route, op, statuses):
    """One test point: the operation matches its route in every way."""
    problems = []
    if op.get("x-access") != access:
        problems.append("x-access %r, the table says %r"
                        % (op.get("x-access"), access))
    if route is not None and op.get("operationId") != route["handler"]:
        problems.append("operationId %r, the handler is %r"
                        % (op.get("operationId"), route["handler"]))
    if not isinstance(op.get("summary"), str) or not op.get("summary"):
        problems.append("no summary")
    sec = op.get("security")
    if access == "anonymous" and sec != []:
        problems.append("security must be [] (anonymous), got %r" % (sec,))
    if access == "link" and sec != [{"bearer": []}, {"link": []}]:
        problems.append("security must be [{bearer: []}, {link: []}] "
                        "(link), got %r" % (sec,))
    if access not in ("anonymous", "link") and sec != [{"bearer": []}]:
        problems.append("security must be [{bearer: []}], got %r" % (sec,))
    if route is not None:
        check_inputs(doc, op, route, pattern, problems)

    resps = op.get("responses") or {}
    need = {200}
    fields = route["fields"] if route else []
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        need |= {400, 413, 415}
    if any(f["src"] == "FS_QUERY" for f in fields):
        need.add(400)
    if "{id}" in pattern:
        need.add(404)
    if access != "anonymous":
        need |= {401, 503}
    if access in ("any", "user", "admin", "link"):
        need.add(403)
    if route is not None:
        listed = statuses.get(route["handler"], "absent")
        if listed == "absent":
            problems.append("handler %s not found in src/*.c (\"void\\n%s(\")"
                            % (route["handler"], route["handler"]))
        elif listed is None:
            problems.append("the comment of handler %s lists no "
                            "\"Statuses:\" (STYLE.md)" % route["handler"])
        else:
            need |= listed
    have = set()
    for code, r in resps.items():
        if not (isinstance(code, str) and re.match(r"^[1-5][0-9][0-9]$",
                                                   code)):
            problems.append("response key %r is not a quoted status" % code)
            continue
        have.add(int(code))
        try:
            d = deref(doc, r)
        except KeyError:
            continue  # reported by the $ref check
        if not d.get("description"):
            problems.append("response %s has no description" % code)
        if int(code) >= 400 and not error_schema_ok(doc, r):
            problems.append("response %s is not the Error envelope" % code)
    if 200 in have and not success_schema_ok(doc, resps["200"]):
        problems.append("response 200 is not the success Envelope")
    missing = sorted(need - have)
    if missing:
        problems.append("statuses not documented: %s (handler comment, "
                        "front line)" % missing)
    return ok(not problems, "%s %s (%s): documented as in the route table"
              % (method, pattern, access), *["  " + p for p in problems])


def main():
    r = subprocess.run([T.PARKCTL, "-V"], capture_output=True, text=True,
                       timeout=30)
    m = re.search(r"([0-9]+\.[0-9]+[^\s]*)\s*$", r.stdout.strip())
    version = m.group(1) if m else None
    ok(version is not None, "parkctl -V prints a version", r.stdout.strip())

    table = parkctl_routes()
    ok(len(table) > 0, "parkctl api routes lists the routes (%d)"
       % len(table))
    bad = [t for t in table if t[2] not in ACCESS or
           t[0] not in ("GET", "POST", "PUT", "PATCH", "DELETE")]
    ok(not bad, "every route has one method and a known access", *bad)

    try:
        croutes = routes_c()
    except (OSError, ValueError, IndexError) as e:
        croutes = {}
        diag("src/routes.c: %s" % e)
    same = set(croutes) == {(m_, p) for m_, p, _ in table}
    ok(same, "src/routes.c as this test reads it agrees with parkctl "
       "(else update routes_c() here)",
       *["  only in parkctl: %s %s" % k for k in
         sorted({(m_, p) for m_, p, _ in table} - set(croutes))],
       *["  only in routes.c: %s %s" % k for k in
         sorted(set(croutes) - {(m_, p) for m_, p, _ in table})])
    statuses = handler_statuses()

    try:
        with open(YAML_FILE, encoding="utf-8") as f:
            doc = parse_yaml(f.read())
        ok(True, "%s parses" % os.path.basename(YAML_FILE))
    except (OSError, UnicodeDecodeError, YamlError, IndexError) as e:
        ok(False, "%s parses" % os.path.basename(YAML_FILE), str(e))
        return
    check_document(doc, version)

    # The documented operations, by (METHOD, normalised path).
    ops, dups = {}, []
    paths = doc.get("paths") if isinstance(doc, dict) else None
    ok(isinstance(paths, dict) and paths, "paths is a non-empty mapping")
    for path, item in (paths or {}).items():
        if not isinstance(item, dict):
            dups.append("%s: not a mapping" % path)
            continue
        for meth, op in item.items():
            if meth not in METHODS:
                if meth not in ("summary", "description", "servers",
                                "parameters") and not meth.startswith("x-"):
                    dups.append("%s: unknown key %r" % (path, meth))
                continue
            key = (meth.upper(), norm(path))
            if key in ops:
                dups.append("%s %s: documented twice (as %s and %s)"
                            % (meth.upper(), path, ops[key]["_path"], path))
            if not isinstance(op, dict):
                dups.append("%s %s: not a mapping" % (meth, path))
                continue
            op["_path"] = path
            ops[key] = op
    ok(not dups, "paths: no duplicate or unknown entries", *dups)

    documented = set()
    for method, pattern, access in table:
        key = (method, norm(pattern))
        op = ops.get(key)
        if op is None:
            ok(False, "%s %s (%s): documented as in the route table"
               % (method, pattern, access),
               "  not in %s" % YAML_FILE)
            continue
        documented.add(key)
        check_operation(doc, method, pattern, access,
                        croutes.get((method, pattern)), op, statuses)
    extra = sorted(set(ops) - documented)
    ok(not extra, "every documented operation is a route",
       *["  %s %s (%s) is not in the route table"
         % (k[0], ops[k]["_path"], ops[k].get("operationId")) for k in extra])


T.run(main)
