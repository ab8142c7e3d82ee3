import { jsonError, relay } from "@/lib/backend";
import { requestToken } from "@/lib/session";

export const dynamic = "force-dynamic";

function todoPath(params) {
  return /^[0-9]+$/.test(params.id) ? `/api/todos/${params.id}` : null;
}

// Complete (or reopen) a todo: {"completed": true|false}.
export async function PATCH(request, { params }) {
  const token = requestToken();
  if (!token) return jsonError(401, "not signed in");
  const path = todoPath(params);
  if (!path) return jsonError(404, "no such todo");
  let body;
  try {
    body = await request.json();
  } catch {
    return jsonError(400, "send JSON: {\"completed\": true}");
  }
  return relay(path, { method: "PATCH", token, body });
}

export function DELETE(_request, { params }) {
  const token = requestToken();
  if (!token) return jsonError(401, "not signed in");
  const path = todoPath(params);
  if (!path) return jsonError(404, "no such todo");
  return relay(path, { method: "DELETE", token });
}
