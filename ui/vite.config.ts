import { defineConfig } from "vite";

// The bundle is served by the binary under /_/ and committed (crates/sb-admin/dist), so the
// output must be the same on every machine: no timestamps, content-hashed names only.
export default defineConfig({
  base: "/_/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../crates/sb-admin/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` against a local `scalebase serve` on the default port.
    proxy: { "/api": "http://127.0.0.1:8090" },
  },
});
