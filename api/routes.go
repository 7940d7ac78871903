package api

import (
	_ "embed"
	"errors"
	"net/http"
	"strings"

	"github.com/onpyrunner/onpyrunner"
)

//go:embed openapi.yaml
var openapiYAML []byte

// routes is the API's one list of routes. Every path also answers other
// methods with a JSON 405, and unknown paths with a JSON 404.
func (s *Server) routes() {
	index := s.index
	if s.cfg.Web != nil {
		index = s.cfg.Web.ServeHTTP
	}
	type route = struct {
		method, path string
		h            http.HandlerFunc
	}
	routes := []route{
		{"POST", "/api/jobs", s.submit},
		{"GET", "/api/jobs/{jobId}", s.get},
		{"DELETE", "/api/jobs/{jobId}", s.cancel},
		{"GET", "/api/jobs/{jobId}/events", s.events},
		{"GET", "/api/jobs/{jobId}/attach", s.attach},
		{"POST", "/api/batches", s.submitBatch},
		{"GET", "/api/batches/{batchId}", s.getBatch},
		{"GET", "/api/runtimes", s.runtimes},
		{"GET", "/api/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
			// A browser that follows a link gets text it shows, not a file
			// to save; tools get YAML.
			ct := "application/yaml"
			if strings.Contains(r.Header.Get("Accept"), "text/html") {
				ct = "text/plain; charset=utf-8"
			}
			w.Header().Set("Content-Type", ct)
			_, _ = w.Write(openapiYAML)
		}},
		{"GET", "/healthz", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}},
		{"GET", "/readyz", s.ready},
		{"GET", "/{$}", index},
	}
	if s.cfg.Metrics != nil {
		routes = append(routes, route{"GET", "/metrics", s.cfg.Metrics.ServeHTTP})
	}
	if s.cfg.Web != nil {
		routes = append(routes, route{"GET", "/assets/", s.cfg.Web.ServeHTTP})
	}
	allow := map[string][]string{}
	for _, rt := range routes {
		s.mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	for path, methods := range allow {
		if path == "/{$}" {
			continue
		}
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			s.fail(w, onpyrunner.Errorf(onpyrunner.CodeMethod, "%s takes %s, not %s", r.URL.Path, strings.Join(methods, " or "), r.Method))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// RuntimesResponse is the body of GET /api/runtimes.
type RuntimesResponse struct {
	Runtimes      []Runtime     `json:"runtimes"`
	Default       string        `json:"default"`
	DefaultLimits RequestLimits `json:"defaultLimits"`
	MaxLimits     RequestLimits `json:"maxLimits"`
	MaxCodeBytes  int64         `json:"maxCodeBytes"`
	MaxInputBytes int64         `json:"maxInputBytes"`
	// MaxInteractiveWallTimeMs is an interactive job's default and
	// largest wall limit; AttachTimeoutMs how long a running one waits for
	// its client (Config).
	MaxInteractiveWallTimeMs int64 `json:"maxInteractiveWallTimeMs"`
	AttachTimeoutMs          int64 `json:"attachTimeoutMs"`
	// Webhooks says whether jobs may carry a callbackUrl.
	Webhooks bool `json:"webhooks"`
}

func (s *Server) runtimes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeCtx(r)
	defer cancel()
	rts := s.langs.get(ctx)
	writeJSON(w, http.StatusOK, RuntimesResponse{
		Runtimes:      rts,
		Default:       rts[0].Language,
		DefaultLimits: publicLimits(s.cfg.DefaultLimits),
		MaxLimits:     publicLimits(s.cfg.MaxLimits),
		MaxCodeBytes:  s.cfg.MaxCodeBytes,
		MaxInputBytes: s.cfg.MaxInputBytes,

		MaxInteractiveWallTimeMs: s.cfg.InteractiveWallTime.Milliseconds(),
		AttachTimeoutMs:          s.cfg.AttachTimeout.Milliseconds(),
		Webhooks:                 s.cfg.Webhooks,
	})
}

// index is the page at / until the playground comes.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>OnPyRunner</title>
<h1>OnPyRunner</h1><p>Run Python in a sandbox: <code>POST /api/jobs</code> with
<code>{"code": "print(1)"}</code>. The API is described in <a href="/api/openapi.yaml">openapi.yaml</a>.</p>
`))
}

// ready answers 200 while the store answers and the server is not shutting
// down, else 503.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining() {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeUnavailable, "shutting down"))
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	if _, err := s.store.Stats(ctx); err != nil {
		s.cfg.Logger.Warn("readiness: store", "err", err)
		if e, ok := errors.AsType[*onpyrunner.Error](err); ok && e.Code == onpyrunner.CodeUnavailable {
			s.fail(w, e) // the store says what is wrong (a full disk)
			return
		}
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeUnavailable, "the job store does not answer"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
