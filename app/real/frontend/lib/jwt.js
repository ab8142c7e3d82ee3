// HS256 JSON Web Tokens with Node's own crypto: the frontend signs them at sign-in and the
// FastAPI backend verifies them, both with JWT_SECRET_KEY from the one [secrets.app] key.
import { createHmac, timingSafeEqual } from "node:crypto";

const b64url = (data) => Buffer.from(data).toString("base64url");

function secret() {
  const key = process.env.JWT_SECRET_KEY;
  if (!key) {
    // The chart always sets it (secretKeyRef); a missing key is a deployment mistake.
    throw new Error("JWT_SECRET_KEY is not set: the frontend cannot sign sessions");
  }
  return key;
}

function signature(input, key) {
  return createHmac("sha256", key).update(input).digest();
}

export function sign(claims, ttlSeconds) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
  const input = `${header}.${payload}`;
  return `${input}.${signature(input, secret()).toString("base64url")}`;
}

// The claims of a token this frontend's key signed and that has not expired; null otherwise.
export function verify(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [header, payload, sig] = parts;
  let expected;
  try {
    expected = signature(`${header}.${payload}`, secret());
  } catch {
    return null;
  }
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims.exp !== "number" || claims.exp < Date.now() / 1000) return null;
    if (typeof claims.sub !== "string" || !claims.sub) return null;
    return claims;
  } catch {
    return null;
  }
}
