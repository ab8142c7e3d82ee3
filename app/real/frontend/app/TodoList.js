"use client";

import { useCallback, useEffect, useState } from "react";

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { "content-type": "application/json", ...(options.headers || {}) },
    cache: "no-store",
  });
  if (res.status === 401) {
    // Expired, or signed with a key that was rotated since: sign in again.
    window.location.assign("/sign-in?expired=1");
    throw new Error("session expired");
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const message = body?.detail || body?.error || (typeof body === "string" ? body : "") || `HTTP ${res.status}`;
    throw new Error(typeof message === "string" ? message : JSON.stringify(message));
  }
  return body;
}

export default function TodoList({ user }) {
  const [todos, setTodos] = useState(null);
  const [title, setTitle] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setTodos(await api("/api/todos"));
      setError("");
    } catch (err) {
      setError(err.message);
    }
  }, []);

  useEffect(() => {
    load();
  }, [load]);

  async function run(action) {
    setBusy(true);
    try {
      await action();
      await load();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }

  function add(event) {
    event.preventDefault();
    const text = title.trim();
    if (!text) return;
    run(async () => {
      await api("/api/todos", { method: "POST", body: JSON.stringify({ title: text }) });
      setTitle("");
    });
  }

  async function signOut() {
    await fetch("/api/auth/sign-out", { method: "POST" });
    window.location.assign("/sign-in");
  }

  return (
    <div className="card">
      <header>
        <h1>Todos</h1>
        <span className="muted">
          signed in as <strong data-testid="user">{user}</strong> ·{" "}
          <button className="link" onClick={signOut} data-testid="sign-out">
            sign out
          </button>
        </span>
      </header>
      <form onSubmit={add}>
        <input
          type="text"
          name="title"
          placeholder="What needs doing?"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          maxLength={500}
          data-testid="new-title"
        />
        <button type="submit" disabled={busy} data-testid="add">
          Add
        </button>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="error">
          {error}
        </p>
      )}
      {todos === null ? (
        <p className="muted" data-testid="loading">
          Loading…
        </p>
      ) : todos.length === 0 ? (
        <p className="muted" data-testid="empty">
          Nothing to do.
        </p>
      ) : (
        <ul data-testid="todos">
          {todos.map((todo) => (
            <li key={todo.id} className={todo.completed ? "done" : ""} data-testid="todo">
              <input
                type="checkbox"
                checked={todo.completed}
                disabled={busy}
                aria-label={`complete ${todo.title}`}
                onChange={() =>
                  run(() =>
                    api(`/api/todos/${todo.id}`, {
                      method: "PATCH",
                      body: JSON.stringify({ completed: !todo.completed }),
                    }),
                  )
                }
                data-testid="complete"
              />
              <span className="title" data-testid="title">
                {todo.title}
              </span>
              <button
                className="secondary"
                disabled={busy}
                onClick={() => run(() => api(`/api/todos/${todo.id}`, { method: "DELETE" }))}
                data-testid="delete"
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
