import type { NextConfig } from "next";

// A static export served by the latentdeck server (platform/src/latentdeck/api/static.py) on the
// API's own port. Dynamic routes are exported once, as /runs/_/..., and the server maps every
// /runs/<id>/... request (HTML and RSC .txt payloads) onto those files; pages read the real id
// from the URL. trailingSlash gives dir/index.html files, which Starlette's StaticFiles serves.
const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
};

export default config;
