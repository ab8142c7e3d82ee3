// The session: an httpOnly cookie holding the JWT the backend accepts. The browser never reads
// it and never talks to the backend; this server forwards it as a Bearer token.
import { cookies, headers } from "next/headers";
import { verify } from "./jwt";

export const SESSION_COOKIE = "todo_session";
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

// The request's token: the session cookie, or an Authorization header (scripts and tests that
// call the API without a browser).
export function requestToken() {
  const auth = headers().get("authorization") || "";
  if (auth.toLowerCase().startsWith("bearer ")) return auth.slice(7).trim();
  return cookies().get(SESSION_COOKIE)?.value || null;
}

// The signed-in user's claims, or null when there is no valid session (none, expired, or signed
// with a key this frontend no longer holds, e.g. after `todoplan apply --rotate`).
export function currentUser() {
  return verify(requestToken());
}

export function sessionCookie(token) {
  return {
    name: SESSION_COOKIE,
    value: token,
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: SESSION_TTL_SECONDS,
  };
}
