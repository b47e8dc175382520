// Builds the studio's page into the Python package (core/studio/static/), where `visionblocks
// studio` serves it; relative asset paths, so the page works behind any prefix. Nothing is
// loaded from a CDN: every dependency is bundled.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../../core/studio/static", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8765" } },
});
