"use client";

import { useState } from "react";

export default function SignInForm({ expired }) {
  const [error, setError] = useState(expired ? "Your session has ended; sign in again." : "");
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const create = event.nativeEvent.submitter?.value === "create";
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    try {
      const res = await fetch("/api/auth/sign-in", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          username: form.get("username"),
          password: form.get("password"),
          create,
        }),
      });
      if (res.ok) {
        window.location.assign("/");
        return;
      }
      const text = await res.text();
      let message = text;
      try {
        message = JSON.parse(text).error || text;
      } catch {}
      setError(message || `sign-in failed (HTTP ${res.status})`);
    } catch (err) {
      setError(err.message);
    }
    setBusy(false);
  }

  return (
    <div className="card">
      <h1>Sign in</h1>
      <p className="muted">To the Todo app. New here? Pick a name and a password and create an account.</p>
      <form className="stack" onSubmit={submit}>
        <input type="text" name="username" placeholder="User name" autoComplete="username" required data-testid="username" />
        <input
          type="password"
          name="password"
          placeholder="Password"
          autoComplete="current-password"
          required
          minLength={8}
          data-testid="password"
        />
        <div className="row">
          <button type="submit" name="action" value="signin" disabled={busy} data-testid="sign-in">
            Sign in
          </button>
          <button type="submit" name="action" value="create" className="secondary" disabled={busy} data-testid="create-account">
            Create account
          </button>
        </div>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="error">
          {error}
        </p>
      )}
    </div>
  );
}
