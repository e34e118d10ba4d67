#!/usr/bin/env python3
"""Runs the authorization matrix of tests/it/rules_matrix.json against the reference PocketBase.

Usage (from the repository root):
    python3 crates/scalebase/tests/rules_matrix_ref.py "$(../shared/tools/pocketbase-ref)" [PORT]

Starts the given PocketBase binary on 127.0.0.1:PORT (default 28450) with a fresh data directory
under /tmp, builds the matrix's schema and records, runs every case in order exactly as the Rust
test does, prints each mismatch, stops the server, and exits non-zero when any case differs.

Principals: tokens come from superuser impersonation, like the Rust test. The expired token is an
impersonation token of u1 with a 1-second lifetime; the script polls (bounded) until the server
refuses it, since its exp is in whole seconds.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MATRIX = os.path.join(HERE, "it", "rules_matrix.json")
SU_EMAIL = "root@example.com"
SU_PASSWORD = "admin-password-1"
ABSENT = "<absent>"


def call(base, method, path, token=None, body=None, headers=None, multipart=None, form=None):
    data = None
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = token
    if multipart is not None:
        boundary = "sbref" + uuid.uuid4().hex
        parts = []
        for name, value in multipart:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            )
        parts.append(f"--{boundary}--\r\n")
        data = "".join(parts).encode()
        hdrs["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif form is not None:
        data = urllib.parse.urlencode([tuple(pair) for pair in form]).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed


def pointer(doc, ptr):
    cur = doc
    for part in ptr.split("/")[1:]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return ABSENT
    return cur


def default_message(case):
    method, path = case["req"].split(" ", 1)
    if "/records" not in path:
        return None
    if case["status"] == 404:
        return "The requested resource wasn't found."
    if case["status"] == 403:
        return "Only superusers can perform this action."
    if case["status"] == 400 and method == "POST":
        return "Failed to create record."
    return None


def check(case, status, body):
    """The differences between a response and the case's expectation (empty when it matches)."""
    problems = []
    if status != case["status"]:
        problems.append(f"status {status}, expected {case['status']}: {body}")
        return problems
    expect = case.get("expect")
    if isinstance(expect, list):
        got = [item["id"] for item in (body or {}).get("items", [])]
        if got != expect:
            problems.append(f"items {got}, expected {expect}")
        if (body or {}).get("totalItems") != len(expect):
            problems.append(f"totalItems {(body or {}).get('totalItems')}, expected {len(expect)}")
    elif isinstance(expect, dict):
        for ptr, want in expect.items():
            got = pointer(body, ptr)
            if got != want:
                problems.append(f"{ptr} = {json.dumps(got)}, expected {json.dumps(want)}")
    message = default_message(case)
    if message and not (isinstance(expect, dict) and "/message" in expect):
        if (body or {}).get("message") != message:
            problems.append(f"message {(body or {}).get('message')!r}, expected {message!r}")
    return problems


def main():
    binary = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 28450
    base = f"http://127.0.0.1:{port}"
    matrix = json.load(open(MATRIX))
    root = tempfile.mkdtemp(prefix="pb-rules-matrix-")
    data_dir = os.path.join(root, "pb_data")
    # Own (empty) migration and hook directories, and no automigrate: by default PocketBase reads
    # and writes migrations next to the data directory, which would leak between runs.
    isolation = [
        "--dir", data_dir,
        "--migrationsDir", os.path.join(root, "pb_migrations"),
        "--hooksDir", os.path.join(root, "pb_hooks"),
        "--publicDir", os.path.join(root, "pb_public"),
        "--automigrate=false",
    ]
    subprocess.run(
        [binary, "superuser", "upsert", SU_EMAIL, SU_PASSWORD, *isolation],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [binary, "serve", "--http", f"127.0.0.1:{port}", *isolation],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                if call(base, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("reference server did not start")
            time.sleep(0.1)
        return run(base, matrix)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def run(base, matrix):
    status, body = call(
        base,
        "POST",
        "/api/collections/_superusers/auth-with-password",
        body={"identity": SU_EMAIL, "password": SU_PASSWORD},
    )
    assert status == 200, body
    su = body["token"]
    ids = {}
    for definition in matrix["collections"]:
        text = json.dumps(definition)
        for name, cid in ids.items():
            text = text.replace(f'"@id:{name}"', json.dumps(cid))
        status, body = call(base, "POST", "/api/collections", su, json.loads(text))
        assert status == 200, (definition["name"], body)
        ids[definition["name"]] = body["id"]
    for collection, record in matrix["records"]:
        status, body = call(base, "POST", f"/api/collections/{collection}/records", su, record)
        assert status == 200, (collection, record, body)

    def impersonate(collection, rid, duration=3600):
        status, body = call(
            base, "POST", f"/api/collections/{collection}/impersonate/{rid}", su, {"duration": duration}
        )
        assert status == 200, body
        return body["token"]

    tokens = {
        "guest": None,
        "su": su,
        "u1": impersonate("people", "user00000000001"),
        "u2": impersonate("people", "user00000000002"),
        "ua": impersonate("people", "useradmin000001"),
        "mem": impersonate("members", "member000000001"),
        "revoked": impersonate("people", "userrevoked0001"),
        "pw": impersonate("pwonly", "pwonly000000001"),
        "expired": impersonate("people", "user00000000001", 1),
    }
    deadline = time.time() + 15
    while call(base, "POST", "/api/collections/people/auth-refresh", tokens["expired"])[0] != 401:
        if time.time() > deadline:
            raise SystemExit("the 1-second token never expired")
        time.sleep(0.2)

    failures = 0
    for phase in ("setup", "cases"):
        for n, case in enumerate(matrix[phase]):
            method, path = case["req"].split(" ", 1)
            status, body = call(
                base,
                method,
                path,
                tokens[case["who"]],
                case.get("body"),
                case.get("headers"),
                case.get("multipart"),
                case.get("form"),
            )
            problems = check(case, status, body)
            if problems:
                failures += 1
                print(f"{phase}[{n}] {case['who']} {case['req']}")
                if os.environ.get("SHOW_BODY"):
                    print(f"    body: {json.dumps(body)[:1500]}")
                for p in problems:
                    print(f"    {p}")
    total = len(matrix["setup"]) + len(matrix["cases"])
    print(f"{total - failures}/{total} cases match the reference")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
