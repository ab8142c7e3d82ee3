"""The Todo app's API: FastAPI on uvicorn, port 8000, todos stored in PostgreSQL.

Settings come from the environment (the chart fills it from a ConfigMap and a Secret):
  DATABASE_URL     postgresql://USER:PASSWORD@HOST:PORT/DB (required)
  JWT_SECRET_KEY   key that signs the session JWTs (HS256) the frontend issues at sign-in; every
                   /api/todos call needs one (required: the app refuses to start without it)
  CORS_ORIGINS     comma-separated origins browsers may call the API from
  LOG_LEVEL        uvicorn's log level (default info)
"""

import os
import sys

REQUIRED = ("JWT_SECRET_KEY", "DATABASE_URL")


def load_settings():
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        # The wording of pydantic-settings, which the seeds' backend used; their logs said
        # "JWT_SECRET_KEY Field required" when the key was missing from the Secret.
        print(f"{len(missing)} validation error(s) for Settings", file=sys.stderr, flush=True)
        for name in missing:
            print(f"{name} Field required", file=sys.stderr, flush=True)
        sys.exit(1)
    origins = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
    return {
        "database_url": os.environ["DATABASE_URL"],
        "jwt_secret_key": os.environ["JWT_SECRET_KEY"].encode(),
        "cors_origins": origins,
        "log_level": os.environ.get("LOG_LEVEL", "info").lower(),
    }


settings = load_settings()

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import time  # noqa: E402

import psycopg2  # noqa: E402  (after the settings check, so a missing key fails first)
from fastapi import Depends, FastAPI, Header, HTTPException  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402
from pydantic import BaseModel, constr  # noqa: E402

app = FastAPI(title="todo-backend")
app.add_middleware(
    CORSMiddleware,
    allow_origins=settings["cors_origins"],
    allow_methods=["GET", "POST", "PATCH", "DELETE"],
    allow_headers=["Content-Type", "Authorization"],
)

_schema_ready = False


def connect():
    global _schema_ready
    conn = psycopg2.connect(settings["database_url"], connect_timeout=3)
    if not _schema_ready:
        with conn, conn.cursor() as cur:
            # One pod at a time: two pods of a rolling update would race on CREATE/ALTER.
            cur.execute("SELECT pg_advisory_xact_lock(7242)")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS todos ("
                " id SERIAL PRIMARY KEY,"
                " title TEXT NOT NULL,"
                " created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            # Added after the first release: existing tables gain them in place.
            cur.execute("ALTER TABLE todos ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT ''")
            cur.execute("ALTER TABLE todos ADD COLUMN IF NOT EXISTS completed BOOLEAN NOT NULL DEFAULT false")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS users ("
                " username TEXT PRIMARY KEY,"
                " password_hash TEXT NOT NULL,"
                " created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        _schema_ready = True
    return conn


class TodoIn(BaseModel):
    title: constr(strip_whitespace=True, min_length=1, max_length=500)


class TodoUpdate(BaseModel):
    completed: bool


class Credentials(BaseModel):
    username: constr(strip_whitespace=True, min_length=1, max_length=64)
    password: constr(min_length=8, max_length=200)


def _b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_token(token):
    """The claims of an HS256 JWT signed with JWT_SECRET_KEY; raises ValueError saying why not."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url_decode(header_b64))
        signature = _b64url_decode(signature_b64)
    except ValueError as err:
        raise ValueError("malformed token") from err
    if header.get("alg") != "HS256":
        raise ValueError(f"unsupported algorithm {header.get('alg')!r}")
    expected = hmac.new(
        settings["jwt_secret_key"], f"{header_b64}.{payload_b64}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(signature, expected):
        # The message the seeds saw when the frontend and backend held different secrets.
        raise ValueError("signature verification failed")
    try:
        claims = json.loads(_b64url_decode(payload_b64))
    except ValueError as err:
        raise ValueError("malformed token") from err
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < time.time():
        raise ValueError("token expired")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise ValueError("token has no subject")
    return claims


def current_user(authorization: str = Header(default="")):
    """The `sub` of the request's Bearer token: the signed-in user."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(status_code=401, detail="missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify_token(token.strip())["sub"]
    except ValueError as err:
        raise HTTPException(status_code=401, detail=f"invalid token: {err}", headers={"WWW-Authenticate": "Bearer"})


def _hash_password(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return f"pbkdf2_sha256$100000${salt.hex()}${digest.hex()}"


def _password_matches(password, stored):
    try:
        _, rounds, salt, digest = stored.split("$")
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def query(sql, params=(), fetch="all"):
    """Runs one statement in its own transaction; 503 when the database does not answer."""
    try:
        conn = connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                if fetch == "all":
                    return cur.fetchall()
                if fetch == "one":
                    return cur.fetchone()
                return cur.rowcount
        finally:
            conn.close()
    except psycopg2.IntegrityError:
        raise
    except psycopg2.Error as err:
        raise HTTPException(status_code=503, detail=f"database unavailable: {str(err).strip()}")


def _todo(row):
    return {"id": row[0], "title": row[1], "completed": row[2], "created_at": row[3].isoformat()}


@app.get("/health")
def health():
    """Readiness: answers 200 only while the database answers."""
    try:
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()
    except psycopg2.Error as err:
        return JSONResponse({"status": "unavailable", "database": str(err).strip()}, status_code=503)
    return {"status": "ok", "database": "ok"}


@app.get("/api/health")
def api_health():
    return health()


@app.get("/api/settings")
def public_settings():
    """The non-secret settings in effect, so a ConfigMap change can be seen from outside."""
    return {"cors_origins": settings["cors_origins"], "log_level": settings["log_level"]}


# Users: only the frontend's server calls these (the backend's Service is not reachable from
# browsers). The frontend issues the session JWT once the password checks out.
@app.post("/api/users", status_code=201)
def create_user(credentials: Credentials):
    try:
        query(
            "INSERT INTO users (username, password_hash) VALUES (%s, %s)",
            (credentials.username, _hash_password(credentials.password)),
            fetch=None,
        )
    except psycopg2.IntegrityError:
        raise HTTPException(status_code=409, detail=f"the user name {credentials.username!r} is taken")
    return {"username": credentials.username}


@app.post("/api/users/authenticate")
def authenticate(credentials: Credentials):
    row = query("SELECT password_hash FROM users WHERE username = %s", (credentials.username,), fetch="one")
    if row is None or not _password_matches(credentials.password, row[0]):
        raise HTTPException(status_code=401, detail="wrong user name or password")
    return {"username": credentials.username}


@app.get("/api/me")
def me(user: str = Depends(current_user)):
    return {"username": user}


@app.get("/api/todos")
def list_todos(user: str = Depends(current_user)):
    rows = query(
        "SELECT id, title, completed, created_at FROM todos WHERE owner = %s ORDER BY id", (user,)
    )
    return [_todo(r) for r in rows]


@app.post("/api/todos", status_code=201)
def create_todo(todo: TodoIn, user: str = Depends(current_user)):
    row = query(
        "INSERT INTO todos (title, owner) VALUES (%s, %s) RETURNING id, title, completed, created_at",
        (todo.title, user),
        fetch="one",
    )
    return _todo(row)


@app.patch("/api/todos/{todo_id}")
def update_todo(todo_id: int, update: TodoUpdate, user: str = Depends(current_user)):
    row = query(
        "UPDATE todos SET completed = %s WHERE id = %s AND owner = %s RETURNING id, title, completed, created_at",
        (update.completed, todo_id, user),
        fetch="one",
    )
    if row is None:
        raise HTTPException(status_code=404, detail="no such todo")
    return _todo(row)


@app.delete("/api/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: int, user: str = Depends(current_user)):
    if query("DELETE FROM todos WHERE id = %s AND owner = %s", (todo_id, user), fetch=None) == 0:
        raise HTTPException(status_code=404, detail="no such todo")
    return Response(status_code=204)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), log_level=settings["log_level"])
