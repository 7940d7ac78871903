package runtimes

import (
	"reflect"
	"testing"
)

// TestAlternatives: the highest priority wins, slaves come with their
// master, continued lines are joined, and calls with shell words are left
// out.
func TestAlternatives(t *testing.T) {
	got := alternatives(`#!/bin/sh
set -e
update-alternatives --install /usr/lib/libblas.so.3 \
                    libblas.so.3 /usr/lib/blas/libblas.so.3 10
update-alternatives --install /usr/lib/libblas.so.3 libblas.so.3 /usr/lib/openblas/libblas.so.3 100 \
	--slave /usr/lib/libblas.so libblas.so /usr/lib/openblas/libblas.so
update-alternatives --install /usr/bin/x x "$DIR/x" 50
update-alternatives --remove y /usr/bin/y
exit 0
`)
	want := map[string][]alternative{"libblas.so.3": {
		{"/usr/lib/libblas.so.3", "/usr/lib/openblas/libblas.so.3", 100},
		{"/usr/lib/libblas.so", "/usr/lib/openblas/libblas.so", 100},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
