package onpyrunner

// Judging is a job's tests (judge mode): its program runs once per test,
// with the test's input as stdin and the job's limits, and its output is
// compared with the test's expected output. A job without tests runs once.
type Judging struct {
	Tests []Test `json:"tests,omitempty"`
	// Compare is how outputs are compared: exact, lines (the default),
	// tokens or float (package judge).
	Compare string `json:"compare,omitempty"`
	// Tolerance is float's, absolute or relative; 0 means 1e-6.
	Tolerance float64 `json:"tolerance,omitempty"`
	// StopOnFirstFailure skips the tests after the first that fails.
	StopOnFirstFailure bool `json:"stopOnFirstFailure,omitempty"`
}

// Test is one test of a job.
type Test struct {
	Name           string `json:"name,omitempty"`
	Input          string `json:"input"`
	ExpectedOutput string `json:"expectedOutput"`
}

// Judgement says how a test went: Accepted, WrongAnswer, or the verdict of
// a run that did not end ok (time_limit, runtime_error, ...).
type Judgement string

// The judgements that are not verdicts.
const (
	Accepted    Judgement = "accepted"
	WrongAnswer Judgement = "wrong_answer"
	// Skipped is a test not run: an earlier one failed and the job
	// stops on the first failure.
	Skipped Judgement = "skipped"
)

// TestResult is how one test of a job went.
type TestResult struct {
	Name      string    `json:"name"`
	Judgement Judgement `json:"judgement"`
	Verdict   Verdict   `json:"verdict,omitempty"`
	ExitCode  int       `json:"exitCode"`
	Signal    string    `json:"signal,omitempty"`
	TimeMs    int64     `json:"timeMs"`
	WallMs    int64     `json:"wallTimeMs"`
	MemoryKB  int64     `json:"memoryKB"`
	// Stdout and Stderr are the run's output, cut at TestOutputBytes.
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// Diff is a wrong answer's first difference.
	Diff *Diff `json:"diff,omitempty"`
}

// TestOutputBytes caps each test's output kept in its TestResult (the
// comparison sees all of it, up to the job's output limit).
const TestOutputBytes = 8 << 10

// Diff is the first difference of a wrong answer: the line of the output
// (from 1) and the expected and actual line (or token) there.
type Diff struct {
	Line     int    `json:"line"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
}

// TestEvent is the event of a job's live log that carries a test's
// TestResult, as JSON, when the test ends.
const TestEvent EventType = "test"
