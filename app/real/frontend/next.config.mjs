// output: "standalone" makes .next/standalone: server.js plus only the node_modules it needs,
// which is all the image holds (see build and Dockerfile).
//
// No NEXT_PUBLIC_ variable is read anywhere: Next inlines those into the browser's JavaScript at
// build time, so a backend URL there would be baked into the image and wrong in every cluster but
// one. The browser calls this server's own /api routes (relative URLs); the server reads
// BACKEND_URL when a request comes in (runtime configuration, from the chart's ConfigMap).
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "standalone",
  poweredByHeader: false,
  // No ESLint in the dependencies: the build must not look for it.
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
