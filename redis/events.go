package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/onpyrunner/onpyrunner"
)

// Append implements onpyrunner.Store.
func (s *Store) Append(ctx context.Context, id string, t onpyrunner.EventType, data string) error {
	job, ev := s.jobKeys(id)
	return s.fail(appendScript.Run(ctx, s.rdb, []string{job, ev}, string(t), data).Err())
}

// waitAtMost bounds one wait for a job's new events, after which Events
// looks at the job again.
const waitAtMost = 5 * time.Second

// Events implements onpyrunner.Store.
func (s *Store) Events(ctx context.Context, id string, after int) ([]onpyrunner.Event, bool, error) {
	job, ev := s.jobKeys(id)
	for {
		pipe := s.rdb.Pipeline()
		exists := pipe.Exists(ctx, ev)
		state := pipe.HMGet(ctx, job, "status", "seq")
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, false, s.fail(err)
		}
		if exists.Val() == 0 {
			return nil, true, nil // ended long ago, or never was
		}
		v := state.Val()
		st, _ := v[0].(string)
		seqS, _ := v[1].(string)
		if seq, _ := strconv.Atoi(seqS); onpyrunner.Status(st).Final() && after >= seq {
			return nil, true, nil // the caller has read the whole log
		}
		seq, _ := strconv.Atoi(seqS)
		evs, err := s.readLog(ctx, ev, after, seq)
		if err != nil || len(evs) == 0 {
			if err == nil {
				continue
			}
			return nil, false, err
		}
		done := false
		for _, e := range evs {
			done = done || (e.Type == onpyrunner.StatusEvent && onpyrunner.Status(e.Data).Final())
		}
		return evs, done, nil
	}
}

// readLog reads the entries of log stream key after Seq after, of seq in
// all: those there are, or those that come within waitAtMost (none, then;
// the caller looks at the job again). Entry 0-N is event N.
func (s *Store) readLog(ctx context.Context, key string, after, seq int) ([]onpyrunner.Event, error) {
	var msgs []goredis.XMessage
	var err error
	if seq > after {
		// Something to read now.
		msgs, err = s.rdb.XRangeN(ctx, key, "0-"+strconv.Itoa(after+1), "+", 1000).Result()
	} else {
		// Wait with the others on the one reader, a while at most.
		wctx, cancel := context.WithTimeout(ctx, waitAtMost)
		msgs, err = s.fan.wait(wctx, key, after)
		cancel()
	}
	if err != nil {
		return nil, s.fail(err)
	}
	if len(msgs) == 0 {
		return nil, ctx.Err()
	}
	evs := make([]onpyrunner.Event, 0, len(msgs))
	for _, m := range msgs {
		n, _ := strconv.Atoi(m.ID[2:])
		t, _ := m.Values["t"].(string)
		d, _ := m.Values["d"].(string)
		evs = append(evs, onpyrunner.Event{Seq: n, Type: onpyrunner.EventType(t), Data: d})
	}
	return evs, nil
}

// Stats implements onpyrunner.Store.
func (s *Store) Stats(ctx context.Context) (onpyrunner.Stats, error) {
	var st onpyrunner.Stats
	pipe := s.rdb.Pipeline()
	q := pipe.Get(ctx, s.key("queued"))
	r := pipe.SCard(ctx, s.key("running"))
	e := pipe.HGetAll(ctx, s.key("ended"))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return st, s.fail(err)
	}
	queued, _ := q.Int()
	st.Queued, st.Running = queued, int(r.Val())
	used, _, err := s.memoryNow(ctx)
	if err != nil {
		return st, err
	}
	st.StoredBytes = used
	st.Ended = map[onpyrunner.Ending]int64{}
	for k, v := range e.Val() {
		status, verdict, _ := strings.Cut(k, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		st.Ended[onpyrunner.Ending{Status: onpyrunner.Status(status), Verdict: onpyrunner.Verdict(verdict)}] = n
	}
	return st, nil
}

// PublishRuntimes tells the API processes which languages this worker runs,
// for ttl (a worker refreshes it while it lives).
func (s *Store) PublishRuntimes(ctx context.Context, rts []onpyrunner.Runtime, ttl time.Duration) error {
	if len(rts) == 0 {
		return nil
	}
	var kv []any
	for _, rt := range rts {
		rt.Default = false // the API decides, from every worker's
		b, err := json.Marshal(rt)
		if err != nil {
			return err
		}
		kv = append(kv, rt.Language+" "+rt.Version, b)
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.key("runtimes"), kv...)
	pipe.Expire(ctx, s.key("runtimes"), ttl)
	cmds, err := pipe.Exec(ctx)
	for _, c := range cmds {
		if c.Err() != nil && err != nil && strings.HasPrefix(err.Error(), "EXECABORT") {
			err = c.Err() // why the transaction was discarded (a full Redis)
			break
		}
	}
	return s.fail(err)
}

// Runtimes lists the languages that live workers run.
func (s *Store) Runtimes(ctx context.Context) ([]onpyrunner.Runtime, error) {
	h, err := s.rdb.HGetAll(ctx, s.key("runtimes")).Result()
	if err != nil {
		return nil, s.fail(err)
	}
	var rts []onpyrunner.Runtime
	for _, v := range h {
		var rt onpyrunner.Runtime
		if json.Unmarshal([]byte(v), &rt) == nil && rt.Language != "" {
			rts = append(rts, rt)
		}
	}
	return onpyrunner.MarkDefaults(rts), nil
}

// Worker names the consumer (host-pid-suffix) that runs a job now, or "".
func (s *Store) Worker(ctx context.Context, id string) (string, error) {
	job, _ := s.jobKeys(id)
	w, err := s.rdb.HGet(ctx, job, "worker").Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return w, s.fail(err)
}
