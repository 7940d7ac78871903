package api_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

// loadSpec reads openapi.yaml from the package's folder, loads it and
// checks that it is a valid OpenAPI document.
func loadSpec(t testing.TB) (*openapi3.T, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc, raw
}

// TestOpenAPISpecValid checks the document itself: it validates, it lists
// exactly the routes of routes.go, and its schemas and enums follow the Go
// types that the API marshals.
func TestOpenAPISpecValid(t *testing.T) {
	doc, _ := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi: %q, want 3.0.3", doc.OpenAPI)
	}

	t.Run("operations", func(t *testing.T) {
		// The routes of routes.go (the /api/ catch-all 404 aside).
		want := []string{
			"DELETE /api/jobs/{jobId}", "GET /", "GET /api/batches/{batchId}", "GET /api/jobs/{jobId}", "GET /api/jobs/{jobId}/attach", "GET /api/jobs/{jobId}/events",
			"GET /api/openapi.yaml", "GET /api/runtimes", "GET /healthz", "GET /metrics", "GET /readyz",
			"POST /api/batches", "POST /api/jobs",
		}
		var got []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				got = append(got, method+" "+path)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("operations:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("enums", func(t *testing.T) {
		for _, c := range []struct {
			schema, prop string
			want         []string
		}{
			{"Job", "status", strs(onpyrunner.Queued, onpyrunner.Running, onpyrunner.Completed, onpyrunner.Failed, onpyrunner.Canceled)},
			{"StatusEventData", "status", strs(onpyrunner.Queued, onpyrunner.Running, onpyrunner.Completed, onpyrunner.Failed, onpyrunner.Canceled)},
			{"Result", "verdict", strs(onpyrunner.OK, onpyrunner.RuntimeError, onpyrunner.TimeLimit, onpyrunner.WallTimeLimit,
				onpyrunner.MemoryLimit, onpyrunner.OutputLimit)},
		} {
			if got := enumOf(t, schemaOf(t, doc, c.schema).Properties[c.prop]); !slices.Equal(got, c.want) {
				t.Errorf("%s.%s enum %q, want %q", c.schema, c.prop, got, c.want)
			}
		}
		inner := schemaOf(t, doc, "Error").Properties["error"].Value
		want := strs(onpyrunner.CodeInvalid, onpyrunner.CodeNotFound, onpyrunner.CodeMethod, onpyrunner.CodeTooLarge, onpyrunner.CodeTooMany,
			onpyrunner.CodeQueueFull, onpyrunner.CodeUnavailable, onpyrunner.CodeInternal)
		if got := enumOf(t, inner.Properties["code"]); !slices.Equal(got, want) {
			t.Errorf("Error.error.code enum %q, want %q", got, want)
		}
	})

	// Each schema has the JSON fields of its Go type, no more, and (for
	// what the server writes) requires those that are never left out.
	t.Run("fields", func(t *testing.T) {
		for _, c := range []struct {
			schema   string
			schemaV  *openapi3.Schema
			v        any
			response bool
		}{
			{schema: "Job", v: onpyrunner.Job{}, response: true},
			{schema: "Result", v: onpyrunner.Result{}, response: true},
			{schema: "Limits", v: onpyrunner.Limits{}, response: true},
			{schema: "Runtime", v: api.Runtime{}, response: true},
			{schema: "RuntimesResponse", v: api.RuntimesResponse{}, response: true},
			{schema: "RuntimeLimits", v: api.RequestLimits{}},
			{schema: "SubmitRequest", v: api.SubmitRequest{}},
			{schema: "RequestLimits", v: api.RequestLimits{}},
			{schema: "Error.error", schemaV: schemaOf(t, doc, "Error").Properties["error"].Value, v: onpyrunner.Error{}, response: true},
		} {
			s := c.schemaV
			if s == nil {
				s = schemaOf(t, doc, c.schema)
			}
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s: want additionalProperties: false", c.schema)
			}
			names, required := jsonFields(reflect.TypeOf(c.v))
			var props []string
			for p := range s.Properties {
				props = append(props, p)
			}
			sort.Strings(props)
			if !slices.Equal(props, names) {
				t.Errorf("%s: properties %q, want the JSON fields of %T %q", c.schema, props, c.v, names)
			}
			if c.response {
				req := slices.Clone(s.Required)
				sort.Strings(req)
				if !slices.Equal(req, required) {
					t.Errorf("%s: required %q, want the fields %T never leaves out %q", c.schema, req, c.v, required)
				}
			}
		}
	})
}

func strs[S ~string](v ...S) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

func schemaOf(t testing.TB, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("no schema %s in components", name)
	}
	return ref.Value
}

func enumOf(t testing.TB, ref *openapi3.SchemaRef) []string {
	t.Helper()
	if ref == nil || ref.Value == nil {
		t.Fatal("no such property")
	}
	var out []string
	for _, v := range ref.Value.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// jsonFields lists the JSON names of a struct's fields, sorted, and those
// without omitempty.
func jsonFields(typ reflect.Type) (names, always []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			// encoding/json puts an embedded struct's fields in its own.
			n, a := jsonFields(f.Type)
			names, always = append(names, n...), append(always, a...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(names)
	sort.Strings(always)
	return names, always
}
