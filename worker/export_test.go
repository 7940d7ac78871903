package worker

// IdleRunners is how many of p's runners wait for work now (for tests
// that must know every slot is idle before they submit).
func (p *Pool) IdleRunners() int { return len(p.idle) }
