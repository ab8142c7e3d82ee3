// The image's entry point: Next's standalone server.js binds to $HOSTNAME, and Kubernetes sets
// HOSTNAME to the pod's name, which would leave the server unreachable through 127.0.0.1 (and
// kubectl port-forward). Listen on every address instead.
process.env.HOSTNAME = "0.0.0.0";
process.env.PORT = process.env.PORT || "3000";
process.env.NEXT_TELEMETRY_DISABLED = "1";
// As PID 1, node ignores SIGTERM unless it handles it: every rollout would wait out the pod's
// whole grace period.
process.on("SIGTERM", () => process.exit(0));
require("./server.js");
