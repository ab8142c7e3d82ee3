// The probe: answers without calling the backend, so the frontend's readiness does not depend on
// it (the smoke check /api/ready covers the whole chain).
export const dynamic = "force-dynamic";

export function GET() {
  return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
}
