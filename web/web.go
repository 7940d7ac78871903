package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

//go:embed index.html assets
var embedded embed.FS

// immutable is the caching of an asset asked for with its current version
// (index.html names each asset as /assets/NAME?v=VERSION).
const immutable = "public, max-age=31536000, immutable"

// csp keeps the page to its own scripts and to talking with its own server.
// CodeMirror sets inline styles, hence 'unsafe-inline' for styles alone.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one file as served: its bytes, gzipped where that helps.
type file struct {
	body, gz    []byte
	etag, gzTag string
	ctype       string
	version     string
}

// handler serves the embedded files, by URL path.
type handler struct{ files map[string]*file }

// Handler returns the playground: index.html at / (never cached without
// revalidation) and the files under /assets/ (cached for good when asked
// for with the version that index.html names), gzipped for clients that
// accept gzip. Other paths and methods get the API's JSON errors.
func Handler() http.Handler { return load() }

var load = sync.OnceValue(func() *handler {
	h := &handler{files: map[string]*file{}}
	assets, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err)
	}
	var names []string
	err = fs.WalkDir(assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		h.files["/assets/"+name] = newFile(name, b)
		names = append(names, name)
		return nil
	})
	if err != nil {
		panic(err) // the embedded files are part of the binary
	}
	index, err := embedded.ReadFile("index.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		url := "/assets/" + name
		index = bytes.ReplaceAll(index, []byte(`"`+url+`"`), []byte(`"`+url+"?v="+h.files[url].version+`"`))
	}
	h.files["/"] = newFile("index.html", index)
	return h
})

func newFile(name string, b []byte) *file {
	sum := sha256.Sum256(b)
	f := &file{body: b, ctype: contentType(name), version: hex.EncodeToString(sum[:6])}
	f.etag = `"` + f.version + `"`
	if compressible(f.ctype) && len(b) > 256 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			f.gz, f.gzTag = buf.Bytes(), `"`+f.version+`-gz"`
		}
	}
	return f
}

// types are the content types of the files here; others come from mime.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".png":  "image/png",
}

func contentType(name string) string {
	ext := path.Ext(name)
	if t, ok := types[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "image/svg") ||
		strings.HasPrefix(ctype, "application/json")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		api.WriteError(w, onpyrunner.Errorf(onpyrunner.CodeMethod, "%s takes GET, not %s", r.URL.Path, r.Method))
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		api.WriteError(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no such file: %s", r.URL.Path))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Vary", "Accept-Encoding")
	switch {
	case r.URL.Path == "/":
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", csp)
		hd.Set("Referrer-Policy", "same-origin")
	case r.URL.Query().Get("v") == f.version:
		hd.Set("Cache-Control", immutable)
	default:
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = f.gz, f.gzTag
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reads an Accept-Encoding header: gzip, or *, with a q above 0.
func acceptsGzip(header string) bool {
	star := false
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		ok := true
		if k, v, found := strings.Cut(strings.TrimSpace(params), "="); found && strings.TrimSpace(k) == "q" {
			ok = strings.Trim(strings.TrimSpace(v), "0.") != ""
		}
		if name == "gzip" {
			return ok
		}
		star = ok
	}
	return star
}
