// Sign-in: the backend checks the password (it keeps the users), this server issues the session
// JWT, signed with JWT_SECRET_KEY, and has the backend accept it before answering, so a frontend
// and backend holding different keys fail here, at sign-in, with a message that says so.
import { NextResponse } from "next/server";
import { BackendUnreachable, backend, jsonError, unreachable } from "@/lib/backend";
import { sign } from "@/lib/jwt";
import { SESSION_TTL_SECONDS, sessionCookie } from "@/lib/session";

export const dynamic = "force-dynamic";

async function detail(res) {
  try {
    const body = await res.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
  } catch {
    return `HTTP ${res.status}`;
  }
}

export async function POST(request) {
  let input;
  try {
    input = await request.json();
  } catch {
    return jsonError(400, "send JSON: {\"username\": ..., \"password\": ...}");
  }
  const username = typeof input.username === "string" ? input.username.trim() : "";
  const password = typeof input.password === "string" ? input.password : "";
  if (!username || !password) return jsonError(400, "enter a user name and a password");
  const credentials = { username, password };
  try {
    if (input.create) {
      const created = await backend("/api/users", { method: "POST", body: credentials });
      if (created.status !== 201) return jsonError(created.status, await detail(created));
    }
    const checked = await backend("/api/users/authenticate", { method: "POST", body: credentials });
    if (checked.status !== 200) return jsonError(checked.status, await detail(checked));

    const token = sign({ sub: username }, SESSION_TTL_SECONDS);
    const me = await backend("/api/me", { token });
    if (me.status === 401) {
      return jsonError(
        502,
        `the backend refused the session this frontend signed (${await detail(me)}): ` +
          "the frontend and the backend do not hold the same JWT_SECRET_KEY",
      );
    }
    if (me.status !== 200) return jsonError(me.status, await detail(me));
    const response = NextResponse.json({ user: username });
    response.cookies.set(sessionCookie(token));
    return response;
  } catch (err) {
    if (err instanceof BackendUnreachable) return unreachable(err);
    throw err;
  }
}
