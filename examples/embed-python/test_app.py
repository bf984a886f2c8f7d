"""Runs app.py, unchanged, under a real uvicorn and sends it real HTTP requests."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jwt
import pytest

HERE = pathlib.Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "embedding.md"
SECRET = "a-test-secret-of-at-least-32-bytes!"


def test_the_docs_show_this_app_verbatim():
    assert (HERE / "app.py").read_text() in DOC.read_text()


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, NOTES_JWT_SECRET=SECRET)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=HERE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("uvicorn did not start")
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


def token(subject, scope="notes:read", lifetime=600, secret=SECRET):
    now = int(time.time())
    claims = {"sub": subject, "aud": "notes", "scope": scope, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def call(base, method, path, bearer=None, body=None):
    request = urllib.request.Request(base + path, method=method, data=body)
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_team_members_read_and_others_are_refused(server):
    assert call(server, "GET", "/notes/n1", token("alice"))[0] == 200
    status, body = call(server, "GET", "/notes/n1", token("bob"))
    assert status == 403, body
    # A user the entity data does not know is refused too.
    assert call(server, "GET", "/notes/n1", token("mallory"))[0] == 403


def test_owners_write_with_the_scope_only(server):
    assert call(server, "PUT", "/notes/n1", token("alice"), b"x")[0] == 403
    status, body = call(server, "PUT", "/notes/n1", token("alice", "notes:read notes:write"), b"x")
    assert (status, body["text"]) == (200, "x")
    status, body = call(server, "PUT", "/notes/n2", token("alice", "notes:write"), b"x")
    assert status == 403 and body["detail"] == ["archived notes are read-only"]


def test_missing_forged_and_expired_tokens_never_reach_the_policy(server):
    assert call(server, "GET", "/notes/n1")[0] == 401
    forged = token("alice", secret="another-secret-of-at-least-32-bytes")
    assert call(server, "GET", "/notes/n1", forged)[0] == 401
    assert call(server, "GET", "/notes/n1", token("alice", lifetime=-60))[0] == 401

