// Calls from this server to the backend, by its Service name (BACKEND_URL, read per request:
// runtime configuration from the chart's ConfigMap, never baked into the build).
import { NextResponse } from "next/server";

export function backendUrl() {
  return (process.env.BACKEND_URL || "http://backend:8000").replace(/\/+$/, "");
}

// fetch() to the backend; throws BackendUnreachable when no answer comes back.
export async function backend(path, { method = "GET", token, body } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    return await fetch(`${backendUrl()}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: AbortSignal.timeout(10000),
    });
  } catch (err) {
    throw new BackendUnreachable(err);
  }
}

export class BackendUnreachable extends Error {
  constructor(cause) {
    const reason = cause?.cause?.code || cause?.cause?.message || cause?.message || String(cause);
    super(`backend ${backendUrl()} unreachable: ${reason}`);
  }
}

// The backend's answer passed on as it came (status and JSON body), or 502 when it did not answer.
export async function relay(path, options) {
  let res;
  try {
    res = await backend(path, options);
  } catch (err) {
    if (err instanceof BackendUnreachable) return unreachable(err);
    throw err;
  }
  const text = await res.text();
  return new NextResponse(text || null, {
    status: res.status,
    headers: { "content-type": res.headers.get("content-type") || "application/json" },
  });
}

export function unreachable(err) {
  return new NextResponse(`${err.message}\n`, {
    status: 502,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

export function jsonError(status, error) {
  return NextResponse.json({ error }, { status });
}
