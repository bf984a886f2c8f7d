"""The notes service: a FastAPI app whose every request Rampart decides in-process.

Run it with `NOTES_JWT_SECRET=… uvicorn app:app` from this folder (docs/embedding.md).
"""

import os
from pathlib import Path

import jwt  # PyJWT
from fastapi import Depends, FastAPI, HTTPException, Request

import rampart

# Compiled once at start-up: a policy error stops the service here, not at the first request.
POLICY = rampart.Policy.load(os.environ.get("NOTES_POLICY", Path(__file__).parent))
# The example signs tokens with a shared secret; with an identity provider, verify its
# RS256/ES256 signatures instead (PyJWT's PyJWKClient reads its JWKS).
SECRET = os.environ["NOTES_JWT_SECRET"]


def token_claims(request: Request) -> dict:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer token is required")
    try:
        return jwt.decode(token, SECRET, algorithms=["HS256"], audience="notes")
    except jwt.InvalidTokenError as error:
        raise HTTPException(401, f"invalid token: {error}") from error


def authorize(request: Request, claims: dict = Depends(token_claims)) -> rampart.Decision:
    """Decides the request as it came: the policy's routes map method and path."""
    try:
        decision = POLICY.decide(
            {
                "http": {
                    "method": request.method,
                    # The path as sent: Rampart normalises it itself.
                    "path": request.scope["raw_path"].decode("latin-1"),
                    "headers": {"x-request-id": request.headers.get("x-request-id", "")},
                },
                "context": {
                    "auth": {
                        "method": "jwt",
                        "subject": claims["sub"],
                        "scopes": claims.get("scope", ""),
                        "expires_at": claims["exp"],
                    },
                    "source": {"ip": request.client.host if request.client else "0.0.0.0"},
                },
            }
        )
    except rampart.RequestError as error:  # a request the policy cannot read: refused
        raise HTTPException(400, str(error)) from error
    if not decision.allowed:
        raise HTTPException(403, decision.reasons or ["not allowed"])
    return decision


app = FastAPI(dependencies=[Depends(authorize)])
NOTES = {"n1": "release checklist", "n2": "2025 retrospective"}


@app.get("/notes/{note_id}")
def read_note(note_id: str) -> dict:
    return {"id": note_id, "text": NOTES.get(note_id, "")}


@app.put("/notes/{note_id}")
async def write_note(note_id: str, request: Request) -> dict:
    NOTES[note_id] = (await request.body()).decode()
    return {"id": note_id, "text": NOTES[note_id]}


@app.delete("/notes/{note_id}")
def delete_note(note_id: str) -> dict:
    NOTES.pop(note_id, None)
    return {"id": note_id, "deleted": True}
