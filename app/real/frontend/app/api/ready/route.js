// The whole chain, for todoplan's smoke check: this server -> the backend by its Service name ->
// PostgreSQL. 200 only when the backend's /health says the database answers.
import { relay } from "@/lib/backend";

export const dynamic = "force-dynamic";

export function GET() {
  return relay("/health");
}
