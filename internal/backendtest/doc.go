// Package backendtest is the conformance suite of onpyrunner.Store: one set
// of tests that every backend (the embedded SQLite store, Redis) runs
// against itself, so that the API and the workers can rely on the same
// behaviour whichever store holds the jobs.
//
// A backend's test calls Run with a function that opens a fresh, empty
// store:
//
//	func TestStore(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T, cfg backendtest.Config) onpyrunner.Store {
//			s, err := sqlite.Open(sqlite.Config{Dir: t.TempDir(), QueueCap: cfg.QueueCap})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite uses the Store interface only, and bounds every call that may
// block, so that a broken store fails its test instead of hanging it.
package backendtest
