package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// An interactive job's input log is a stream of its own, in:ID, entry 0-N
// for Seq N (the job's "inseq" counts them), written by the API process a
// client attached to and read by the worker that runs the job, through
// the process's one reader (fanout). It goes when the job ends.

var _ onpyrunner.Console = (*Store)(nil)

// inputTTL bounds how long an input log outlives its last event, should
// its job's end never come.
const inputTTL = time.Hour

func (s *Store) inKey(id string) string     { return s.key("in", id) }
func (s *Store) writerKey(id string) string { return s.key("writer", id) }

// SendInput implements onpyrunner.Console.
func (s *Store) SendInput(ctx context.Context, id string, t onpyrunner.EventType, data string, maxStdin int64) error {
	job, _ := s.jobKeys(id)
	n, err := inputScript.Run(ctx, s.rdb, []string{job, s.inKey(id)}, string(t), data, seconds(inputTTL), maxStdin).Int()
	if err != nil {
		return s.fail(err)
	}
	switch n {
	case 0:
		return onpyrunner.Errorf(onpyrunner.CodeNotFound, "job %q takes no input: it is not interactive, or it has ended", id)
	case -1:
		return onpyrunner.Errorf(onpyrunner.CodeTooLarge, "stdin: over the server's cap of %d bytes for a job", maxStdin)
	}
	return nil
}

// Input implements onpyrunner.Console.
func (s *Store) Input(ctx context.Context, id string, after int) ([]onpyrunner.Event, bool, error) {
	job, _ := s.jobKeys(id)
	in := s.inKey(id)
	for {
		state, err := s.rdb.HMGet(ctx, job, "status", "inseq").Result()
		if err != nil {
			return nil, false, s.fail(err)
		}
		st, _ := state[0].(string)
		seqS, _ := state[1].(string)
		seq, _ := strconv.Atoi(seqS)
		if st == "" || onpyrunner.Status(st).Final() {
			return nil, true, nil
		}
		evs, err := s.readLog(ctx, in, after, seq)
		if err != nil {
			return nil, false, err
		}
		if len(evs) > 0 {
			return evs, false, nil
		}
	}
}

// HoldWriter implements onpyrunner.Console.
func (s *Store) HoldWriter(ctx context.Context, id, token string, ttl time.Duration) (bool, error) {
	n, err := holdScript.Run(ctx, s.rdb, []string{s.writerKey(id)}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, s.fail(err)
	}
	return n == 1, nil
}

// ReleaseWriter implements onpyrunner.Console.
func (s *Store) ReleaseWriter(ctx context.Context, id, token string) error {
	return s.fail(releaseScript.Run(ctx, s.rdb, []string{s.writerKey(id)}, token).Err())
}
