package onpyrunner

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an Error; the API turns each into one HTTP status.
type Code string

// The error codes of the HTTP API.
const (
	CodeInvalid     Code = "invalid_request"    // 400: malformed JSON or a bad field
	CodeNotFound    Code = "not_found"          // 404: no such job or endpoint
	CodeMethod      Code = "method_not_allowed" // 405: the endpoint takes other methods
	CodeTooLarge    Code = "too_large"          // 413: code or input over the cap
	CodeTooMany     Code = "too_many_requests"  // 429: this client sends too fast
	CodeQueueFull   Code = "queue_full"         // 503: the queue is at its cap
	CodeUnavailable Code = "unavailable"        // 503: the store cannot be reached
	CodeInternal    Code = "internal"           // 500: our fault; no internals told
)

// Error is an error meant for a client: a code and a message in words.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// HasCode says whether err is, or wraps, an *Error of code c.
func HasCode(err error, c Code) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Code == c
}

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NoJob is the error of a store that has no job id: it never was, or it
// ended more than the store's retention ago.
func NoJob(id string, retention time.Duration) *Error {
	return Errorf(CodeNotFound, "no job %q (jobs are kept for %s after they end)", id, retention)
}
