// Package webhook delivers a job's final state to its callback URL when
// the job ends: a POST of the job object, signed with the server's secret
// (Sign), made from the store's outbox, retried with exponential backoff,
// and only to public addresses unless the operator allows others (Guard).
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// The headers of a delivery.
const (
	// TimestampHeader carries the unix seconds the delivery was signed at.
	TimestampHeader = "X-OnPyRunner-Timestamp"
	// SignatureHeader carries "sha256=" and the hex of
	// HMAC-SHA256(secret, timestamp + "." + body).
	SignatureHeader = "X-OnPyRunner-Signature"
	// AttemptHeader counts the tries of this delivery, from 1.
	AttemptHeader = "X-OnPyRunner-Attempt"
)

// Sign returns the SignatureHeader of body sent at unix second ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery as its receiver got it: the signature must be
// body's under secret, and the timestamp within tolerance of now (so that
// a delivery recorded by someone else cannot be replayed later).
func Verify(secret []byte, timestamp, signature string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook: the timestamp is not a number of seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: the timestamp is too far from now")
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return errors.New("webhook: the signature does not match")
	}
	return nil
}

// Fingerprint names secret without telling it: the processes that share a
// store compare theirs (HMAC-SHA256 of a fixed text under the secret, 8
// bytes in hex), to tell when they sign with different secrets.
func Fingerprint(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onpyrunner webhook secret fingerprint"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
