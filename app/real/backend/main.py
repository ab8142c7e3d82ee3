"""The Todo app's API: FastAPI on uvicorn, port 8000, todos stored in PostgreSQL.

Settings come from the environment (the chart fills it from a ConfigMap and a Secret):
  DATABASE_URL     postgresql://USER:PASSWORD@HOST:PORT/DB (required)
  JWT_SECRET_KEY   signing key (required: the app refuses to start without it)
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
        "cors_origins": origins,
        "log_level": os.environ.get("LOG_LEVEL", "info").lower(),
    }


settings = load_settings()

import psycopg2  # noqa: E402  (after the settings check, so a missing key fails first)
from fastapi import FastAPI, HTTPException  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel, constr  # noqa: E402

app = FastAPI(title="todo-backend")
app.add_middleware(
    CORSMiddleware,
    allow_origins=settings["cors_origins"],
    allow_methods=["GET", "POST"],
    allow_headers=["Content-Type", "Authorization"],
)

_schema_ready = False


def connect():
    global _schema_ready
    conn = psycopg2.connect(settings["database_url"], connect_timeout=3)
    if not _schema_ready:
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS todos ("
                " id SERIAL PRIMARY KEY,"
                " title TEXT NOT NULL,"
                " created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        _schema_ready = True
    return conn


class TodoIn(BaseModel):
    title: constr(strip_whitespace=True, min_length=1, max_length=500)


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


@app.get("/api/todos")
def list_todos():
    try:
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id, title, created_at FROM todos ORDER BY id")
                rows = cur.fetchall()
        finally:
            conn.close()
    except psycopg2.Error as err:
        raise HTTPException(status_code=503, detail=f"database unavailable: {str(err).strip()}")
    return [{"id": r[0], "title": r[1], "created_at": r[2].isoformat()} for r in rows]


@app.post("/api/todos", status_code=201)
def create_todo(todo: TodoIn):
    try:
        conn = connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO todos (title) VALUES (%s) RETURNING id, title, created_at",
                    (todo.title,),
                )
                row = cur.fetchone()
        finally:
            conn.close()
    except psycopg2.Error as err:
        raise HTTPException(status_code=503, detail=f"database unavailable: {str(err).strip()}")
    return {"id": row[0], "title": row[1], "created_at": row[2].isoformat()}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), log_level=settings["log_level"])
