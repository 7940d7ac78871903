package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner/web"
)

// get asks the handler for path with the given request headers (name,
// value, name, value...).
func get(t testing.TB, method, path string, headers ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	web.Handler().ServeHTTP(w, r)
	return w.Result()
}

func body(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// assetRe finds the files that index.html loads.
var assetRe = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)

func TestHandler(t *testing.T) {
	index := get(t, "GET", "/")
	page := string(body(t, index))
	urls := assetRe.FindAllStringSubmatch(page, -1)
	if len(urls) != 5 {
		t.Fatalf("index.html loads %d files, want 5 (style, say, view, app, editor): %v", len(urls), urls)
	}
	for _, c := range []struct {
		name, path, ctype, cache string
	}{
		{"index", "/", "text/html; charset=utf-8", "no-cache"},
		{"versioned asset", urls[0][1], "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"script", urls[4][1], "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"unversioned asset", "/assets/app.js", "text/javascript; charset=utf-8", "no-cache"},
		{"old version", "/assets/app.js?v=0", "text/javascript; charset=utf-8", "no-cache"},
		{"licenses", "/assets/editor-licenses.txt", "text/plain; charset=utf-8", "no-cache"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plain := get(t, "GET", c.path)
			zipped := get(t, "GET", c.path, "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
			for _, resp := range []*http.Response{plain, zipped} {
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype ||
					resp.Header.Get("Cache-Control") != c.cache || resp.Header.Get("Vary") != "Accept-Encoding" {
					t.Errorf("%s: %d %v", c.path, resp.StatusCode, resp.Header)
				}
			}
			if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("Content-Encoding: %q without gzip, %q with", plain.Header.Get("Content-Encoding"), zipped.Header.Get("Content-Encoding"))
			}
			if !bytes.Equal(body(t, plain), body(t, zipped)) {
				t.Error("the gzipped body differs from the plain one")
			}
			etag := zipped.Header.Get("ETag")
			if again := get(t, "GET", c.path, "Accept-Encoding", "gzip", "If-None-Match", etag); again.StatusCode != 304 {
				t.Errorf("If-None-Match %s: %d, want 304", etag, again.StatusCode)
			}
		})
	}
	if csp := index.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("index CSP %q", csp)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/assets/nope.js", 404},
		{"GET", "/index.html", 404},
		{"POST", "/", 405},
	} {
		resp := get(t, c.method, c.path)
		if b := body(t, resp); resp.StatusCode != c.code || !bytes.Contains(b, []byte(`"error"`)) {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	if resp := get(t, "GET", "/assets/app.js", "Accept-Encoding", "gzip;q=0, identity"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	if resp := get(t, "HEAD", "/"); resp.StatusCode != 200 || len(body(t, resp)) != 0 {
		t.Errorf("HEAD /: %d", resp.StatusCode)
	}
}

// TestFirstLoadSize measures what a browser fetches on its first visit
// (index.html and the files it loads, gzipped) and keeps it under 400 KB.
func TestFirstLoadSize(t *testing.T) {
	total := 0
	count := func(path string) []byte {
		resp := get(t, "GET", path, "Accept-Encoding", "gzip")
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d, Content-Encoding %q", path, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		t.Logf("%-40s %7d bytes gzipped", path, len(raw))
		total += len(raw)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(zr)
		return b
	}
	for _, m := range assetRe.FindAllStringSubmatch(string(count("/")), -1) {
		count(m[1])
	}
	t.Logf("first load: %d bytes gzipped (index.html, its scripts and styles)", total)
	if total > 400_000 {
		t.Errorf("first load is %d bytes gzipped, over 400 KB", total)
	}
}
