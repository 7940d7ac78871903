// Package web is the playground page of OnPyRunner: one HTML page, its
// script and styles, and a CodeMirror editor bundle, embedded in the binary
// so that `onpyrunner serve` needs no build step and no files beside it.
//
// Handler serves the page at / and its files under /assets/; api.Config.Web
// is where it plugs in. The page talks to the HTTP API of ../api only: it
// submits with POST /api/jobs, streams GET /api/jobs/{id}/events, cancels
// with DELETE and reopens a shared run with GET /api/jobs/{id}?include=source.
//
// The page works without the editor bundle (a plain textarea), so the
// bundle is an enhancement. assets/editor.js is built from src/editor.js by
// `cd web && npm ci && npm run build` (see README.md); the built file is
// committed and node_modules is not.
package web
