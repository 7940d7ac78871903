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
