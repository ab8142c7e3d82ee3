// The signed-in user's todos: passed to the backend with the session as a Bearer token. The
// backend, not this server, decides whether the token is good (it verifies the signature).
import { jsonError, relay } from "@/lib/backend";
import { requestToken } from "@/lib/session";

export const dynamic = "force-dynamic";

export function GET() {
  const token = requestToken();
  if (!token) return jsonError(401, "not signed in");
  return relay("/api/todos", { token });
}

export async function POST(request) {
  const token = requestToken();
  if (!token) return jsonError(401, "not signed in");
  let body;
  try {
    body = await request.json();
  } catch {
    return jsonError(400, "send JSON: {\"title\": ...}");
  }
  return relay("/api/todos", { method: "POST", token, body });
}
