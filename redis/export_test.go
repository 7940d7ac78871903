package redis

// PauseLease stops renewing a running job's lease but keeps the worker's
// hold on it, as a worker stopped by SIGSTOP does (tests only).
func PauseLease(s *Store, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[id]; ok {
		l.stop()
	}
}

// Leases counts the jobs whose leases this worker renews (tests only).
func Leases(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leases)
}

// Waiting counts the streams the store's one reader waits on (tests only).
func Waiting(s *Store) int {
	s.fan.mu.Lock()
	defer s.fan.mu.Unlock()
	return len(s.fan.waiters)
}

// InUse counts the store's pooled connections in use now (tests only).
func InUse(s *Store) int {
	st := s.rdb.PoolStats()
	return int(st.TotalConns) - int(st.IdleConns)
}
