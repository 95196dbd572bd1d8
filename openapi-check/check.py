"""Logs users in for each security scheme, runs schemathesis against the live
server, and prints "N passed, M failed" (operations, from the JUnit report).

    python check.py http://127.0.0.1:PORT WORKDIR

Each destructive operation (logout, logout everywhere, cookie logout, the
refreshes) gets a login of its own, so that running it does not revoke the
credential every other operation is tested with.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from http.cookies import SimpleCookie
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD = "openapi-check password"
# Two runs, each within its time budget (the timeout is the backstop), so
# the whole check stays under about three minutes. The admin API runs last,
# on its own: following the links from its list of accounts, schemathesis
# revokes, disables and deletes the accounts every other operation is
# tested with.
RUNS = [
    ("API", ["--exclude-path-regex", "^/admin/"], 75),
    ("admin API", ["--include-path-regex", "^/admin/"], 25),
]


def post(base, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(
        base + path,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response), response.headers.get_all("Set-Cookie") or []


def register(base, username):
    post(base, "/auth/register", {"username": username, "password": PASSWORD})


def login(base, username):
    body, _ = post(base, "/auth/login", {"username": username, "password": PASSWORD})
    return body


def cookie_login(base, username):
    body, set_cookies = post(
        base, "/auth/cookie/login", {"username": username, "password": PASSWORD}
    )
    cookies = {}
    for line in set_cookies:
        cookies.update({name: morsel.value for name, morsel in SimpleCookie(line).items()})
    return body, cookies


def credentials(base):
    """The ST_* variables schemathesis.toml reads: a login per purpose."""
    register(base, "conformance")
    register(base, "everywhere")
    _, cookies = cookie_login(base, "conformance")
    refresh_body, refresh_cookies = cookie_login(base, "conformance")
    _, logout_cookies = cookie_login(base, "conformance")
    return {
        "ST_ACCESS": login(base, "conformance")["access_token"],
        "ST_REFRESH": login(base, "conformance")["refresh_token"],
        "ST_LOGOUT": login(base, "conformance")["access_token"],
        # Logging out everywhere revokes every login of its user: another user.
        "ST_LOGOUT_ALL": login(base, "everywhere")["access_token"],
        "ST_ACCESS_COOKIE": cookies["access_token_cookie"],
        "ST_CSRF_ACCESS": cookies["csrf_access_token"],
        "ST_REFRESH_COOKIE": refresh_cookies["refresh_token_cookie"],
        "ST_CSRF_REFRESH": refresh_body["csrf_refresh_token"],
        "ST_LOGOUT_COOKIE": logout_cookies["access_token_cookie"],
        "ST_CSRF_LOGOUT": logout_cookies["csrf_access_token"],
    }


def still_valid(base, token):
    """Whether the main access token still works after the run."""
    request = urllib.request.Request(base + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30):
            return True
    except urllib.error.HTTPError:
        return False


def summary(report):
    """(passed, failed, skipped) operations in a JUnit report."""
    passed = failed = skipped = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


# CPython 3.11 (the interpreter Debian ships here) can raise this from
# ast.parse when hypothesis reads a lambda's source to describe a strategy:
# a crash of the tool, not a finding about the server.
INTERPRETER_CRASH = "AST constructor recursion depth mismatch"


def only_interpreter_crashes(report):
    """Whether a JUnit report has failed cases and every one is the crash above."""
    failures = [
        element
        for case in ET.parse(report).getroot().iter("testcase")
        for element in (case.find("failure"), case.find("error"))
        if element is not None
    ]
    return bool(failures) and all(
        INTERPRETER_CRASH in ET.tostring(element, encoding="unicode") for element in failures
    )


def schemathesis(base, workdir, env, name, selection, max_time, extra):
    """Runs schemathesis on some operations; (exit code, JUnit report)."""
    report = workdir / f"junit-{name.replace(' ', '-')}.xml"
    command = [
        str(HERE / ".venv" / "bin" / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{base}/openapi.json",
        *selection,
        "--max-time",
        str(max_time),
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    print(f"== schemathesis: the {name}", flush=True)
    try:
        code = subprocess.run(command, env=env, cwd=workdir, timeout=max_time + 45).returncode
    except subprocess.TimeoutExpired:
        print(f"schemathesis did not finish within {max_time + 45} s", file=sys.stderr)
        code = 1
    return code, report


def main():
    base, workdir = sys.argv[1], Path(sys.argv[2])
    tokens = credentials(base)
    env = {**os.environ, **tokens, "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py")}
    passed = failed = skipped = 0
    status = 0
    for name, selection, max_time in RUNS:
        code, report = schemathesis(base, workdir, env, name, selection, max_time, sys.argv[3:])
        if code != 0 and report.exists() and only_interpreter_crashes(report):
            # Once, and only when the crash is all that failed: the second
            # run's findings are then the ones counted.
            print(f"note: the interpreter crashed in the {name} run; running it again", flush=True)
            code, report = schemathesis(base, workdir, env, name, selection, max_time, sys.argv[3:])
        if name == "API" and not still_valid(base, tokens["ST_ACCESS"]):
            print("note: the main access token was revoked during the run", file=sys.stderr)
        if report.exists():
            counts = summary(report)
            passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
        else:
            print(f"no report from the {name} run", file=sys.stderr)
            failed += 1
        status = status or code
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if status != 0 or failed else 0


if __name__ == "__main__":
    sys.exit(main())
