package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner"
	goredis "github.com/redis/go-redis/v9"
)

// blockFor bounds each blocking read: go-redis does not end a blocked
// command when its context is canceled, so a Claim or Events whose context
// ends returns within this.
const blockFor = 500 * time.Millisecond

// Submit implements onpyrunner.Store.
func (s *Store) Submit(ctx context.Context, j *onpyrunner.Job) error {
	limits, err := json.Marshal(j.Limits)
	if err != nil {
		return err
	}
	options, err := json.Marshal(j.Options)
	if err != nil {
		return err
	}
	if err := s.overBudget(ctx); err != nil {
		return err
	}
	j.Status, j.CreatedAt = onpyrunner.Queued, time.Now().UTC().Truncate(time.Microsecond)
	job, ev := s.jobKeys(j.ID)
	n, err := submitScript.Run(ctx, s.rdb, []string{job, s.queueKey(j), s.key("queued"), ev},
		s.cfg.QueueCap, j.ID, "language", j.Language, "version", j.Version, "limits", limits, "options", options, "interactive", bit(j.Interactive), "callback", bit(j.CallbackURL != ""),
		"code", j.Code, "input", j.Input, "created", micros(j.CreatedAt)).Int()
	if err != nil {
		return s.fail(err)
	}
	if n < 0 {
		return onpyrunner.Errorf(onpyrunner.CodeQueueFull, "the queue is full (%d jobs); try again shortly", s.cfg.QueueCap)
	}
	return nil
}

// Get implements onpyrunner.Store.
func (s *Store) Get(ctx context.Context, id string) (*onpyrunner.Job, error) {
	job, _ := s.jobKeys(id)
	h, err := s.rdb.HGetAll(ctx, job).Result()
	if err != nil {
		return nil, s.fail(err)
	}
	if len(h) == 0 {
		return nil, onpyrunner.NoJob(id, s.retention(ctx))
	}
	return decodeJob(id, h)
}

// retention is how long finished jobs are kept: what Redis holds, which
// every process that shares it reads, else this process's setting.
func (s *Store) retention(ctx context.Context) time.Duration {
	if n, err := s.rdb.Get(ctx, s.key("retention")).Int64(); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return s.cfg.Retention
}

func decodeJob(id string, h map[string]string) (*onpyrunner.Job, error) {
	j := &onpyrunner.Job{ID: id, Status: onpyrunner.Status(h["status"]), Language: h["language"],
		Version: h["version"], Code: h["code"], Input: h["input"], Error: h["error"]}
	j.Attempts, _ = strconv.Atoi(h["attempts"])
	if err := json.Unmarshal([]byte(h["limits"]), &j.Limits); err != nil {
		return nil, fmt.Errorf("redis: job %s: limits: %w", id, err)
	}
	if o := h["options"]; o != "" {
		if err := json.Unmarshal([]byte(o), &j.Options); err != nil {
			return nil, fmt.Errorf("redis: job %s: options: %w", id, err)
		}
	}
	if r := h["result"]; r != "" {
		j.Result = new(onpyrunner.Result)
		if err := json.Unmarshal([]byte(r), j.Result); err != nil {
			return nil, fmt.Errorf("redis: job %s: result: %w", id, err)
		}
	}
	j.CreatedAt = *when(h["created"])
	j.StartedAt, j.FinishedAt = when(h["started"]), when(h["finished"])
	return j, nil
}

// bit is a job hash's flag for the scripts: "interactive" for the input
// script, "callback" for owe.
func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func when(v string) *time.Time {
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if v == "" {
			return nil
		}
		us = 0
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// Claim implements onpyrunner.Store: first a job whose worker stopped
// renewing its lease, else the next queued one.
func (s *Store) Claim(ctx context.Context) (*onpyrunner.Job, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i, cursor, ok := s.lookForExpired(); ok {
			stream := s.streams[i]
			msgs, next, err := s.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: stream, Group: group,
				Consumer: s.cfg.Consumer, MinIdle: s.cfg.Lease, Start: cursor, Count: 1}).Result()
			if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
				err = s.ensureGroups(ctx) // Redis lost its data: start over
			}
			if err != nil {
				return nil, s.claimErr(ctx, err)
			}
			s.lookedAt(i, next)
			for _, m := range msgs {
				if j, err := s.start(ctx, m, stream, true); j != nil || err != nil {
					return j, err
				}
			}
		}
		args := append(slices.Clone(s.streams), slices.Repeat([]string{">"}, len(s.streams))...)
		streams, err := s.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: s.cfg.Consumer,
			Streams: args, Count: 1, Block: min(blockFor, s.cfg.Lease/2)}).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
			err = s.ensureGroups(ctx) // Redis lost its data: start over
		}
		if err != nil {
			return nil, s.claimErr(ctx, err)
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				if j, err := s.start(ctx, m, st.Stream, false); j != nil || err != nil {
					return j, err
				}
			}
		}
	}
}

func (s *Store) claimErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s.fail(err)
}

// lookForExpired says whether it is time to look for expired leases, at
// most every Lease/4 from one process, and where: which queue, and from
// where in its pending entries (each look goes on where the last one
// stopped, queue after queue).
func (s *Store) lookForExpired() (stream int, cursor string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.look.cursor == "" {
		if time.Since(s.claimed) < s.cfg.Lease/4 {
			return 0, "", false
		}
		s.claimed, s.look.stream, s.look.cursor = time.Now(), 0, "0-0"
	}
	return s.look.stream, s.look.cursor, true
}

// lookedAt records where a look for expired leases in queue i stopped:
// next in the same queue, or, at its end ("0-0"), the next queue; after the
// last, the look is over. (Claims at once may look at the same place: the
// later ones' records are stale, and dropped.)
func (s *Store) lookedAt(i int, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i != s.look.stream || s.look.cursor == "" {
		return
	}
	if next != "0-0" {
		s.look.cursor = next
		return
	}
	s.look.stream++
	s.look.cursor = "0-0"
	if s.look.stream == len(s.streams) {
		s.look.cursor = ""
	}
}

// start runs the claim script for a queue entry and, when it started the
// job, returns it with its lease being renewed.
func (s *Store) start(ctx context.Context, m goredis.XMessage, stream string, takeover bool) (*onpyrunner.Job, error) {
	id, _ := m.Values["job"].(string)
	if id == "" { // deleted meanwhile
		s.rdb.XAck(ctx, stream, group, m.ID)
		return nil, nil
	}
	job, ev := s.jobKeys(id)
	over := "0"
	if takeover {
		over = "1"
	}
	got, err := claimScript.Run(ctx, s.rdb, []string{job, s.key("queued"), s.key("running"), ev, stream, s.key("ended"), s.key("retention"),
		s.key("outbox"), s.key("owed")},
		micros(time.Now()), s.cfg.Consumer, m.ID, s.cfg.MaxAttempts, over,
		fmt.Sprintf("the workers running this job stopped, %d times; it was not started again", s.cfg.MaxAttempts),
		seconds(s.cfg.Retention), seconds(s.cfg.EventsTTL), id).Int()
	if err != nil {
		return nil, s.claimErr(ctx, err)
	}
	if got != 1 {
		return nil, nil
	}
	j, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	s.renew(id, stream, m.ID)
	return j, nil
}

// renew keeps a running job's lease: its queue entry's idle time is reset
// every Lease/3 until the job is finished here.
func (s *Store) renew(id, stream, msg string) {
	ctx, stop := context.WithCancel(context.Background())
	s.mu.Lock()
	s.leases[id] = lease{stop: stop, stream: stream, msg: msg}
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = s.rdb.XClaimJustID(ctx, &goredis.XClaimArgs{Stream: stream, Group: group,
					Consumer: s.cfg.Consumer, Messages: []string{msg}}).Err()
			}
		}
	}()
}

// stopLease stops renewing a job's lease and returns it: the queue entry
// of this worker's attempt, which its finish may drop (msg "" when it
// holds no lease on the job).
func (s *Store) stopLease(id string) lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[id]
	if ok {
		l.stop()
		delete(s.leases, id)
	}
	return l
}

// Finish implements onpyrunner.Store.
func (s *Store) Finish(ctx context.Context, j *onpyrunner.Job) error {
	l := s.stopLease(j.ID)
	if l.stream == "" {
		l.stream = s.queueKey(j)
	}
	result, verdict := "", ""
	if j.Result != nil {
		b, err := json.Marshal(j.Result)
		if err != nil {
			return err
		}
		result, verdict = string(b), string(j.Result.Verdict)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	job, ev := s.jobKeys(j.ID)
	done, err := finishScript.Run(ctx, s.rdb, []string{job, s.key("running"), ev, l.stream, s.key("queued"), s.key("ended"), s.key("retention"), s.inKey(j.ID), s.key("outbox"), s.key("owed")},
		string(j.Status), result, j.Error, micros(now), seconds(s.cfg.Retention), seconds(s.cfg.EventsTTL),
		s.cfg.Consumer, j.ID, l.msg, verdict).Int()
	if err != nil {
		return s.fail(err)
	}
	if done == 1 && j.Status.Final() {
		j.FinishedAt = &now
	}
	return nil
}

// Cancel implements onpyrunner.Store.
func (s *Store) Cancel(ctx context.Context, id string) (*onpyrunner.Job, error) {
	job, ev := s.jobKeys(id)
	got, err := cancelScript.Run(ctx, s.rdb, []string{job, s.key("queued"), s.key("running"), ev, s.key("ended"), s.key("retention"), s.inKey(id),
		s.key("outbox"), s.key("owed")},
		micros(time.Now()), seconds(s.cfg.Retention), seconds(s.cfg.EventsTTL), id, onpyrunner.CanceledDeliveryDelay.Milliseconds()).Int()
	if err != nil {
		return nil, s.fail(err)
	}
	if got < 0 {
		return nil, onpyrunner.NoJob(id, s.retention(ctx))
	}
	return s.Get(ctx, id)
}
