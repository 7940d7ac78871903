// Package api serves OnPyRunner's HTTP API (written down in openapi.yaml,
// served at /api/openapi.yaml; docs/contracts.md has the statuses and verdicts): submit
// a job, read it, wait for it, stream its events, cancel it, list the
// runtimes, plus health, readiness and metrics. Every error is the JSON
// object {"error": {"code", "message"}}, and no panic escapes a handler.
package api
