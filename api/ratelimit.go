package api

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter holds a token bucket per client address, so that one client's
// flood of submissions cannot fill the queue for everyone.
type limiter struct {
	rate    rate.Limit
	burst   int
	trusted []netip.Prefix

	mu      sync.Mutex
	clients map[string]*client
	swept   time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int, trusted []netip.Prefix) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), trusted: trusted, clients: map[string]*client{}}
}

// clientAddr is the address of r's client: its peer, or, when the peer is
// a trusted proxy, the nearest address in X-Forwarded-For that is not a
// trusted proxy (the ones left of it are the client's to write).
func (l *limiter) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !l.isTrusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr.String() // not an address: the last proxy is the client
		}
		if addr = hop.Unmap(); !l.isTrusted(addr) {
			return addr.String()
		}
	}
	return addr.String()
}

func (l *limiter) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(l.trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// allow takes a token for the client of r; a nil limiter allows all.
func (l *limiter) allow(r *http.Request) bool {
	if l == nil {
		return true
	}
	host := l.clientAddr(r)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute { // forget clients gone quiet
		for k, c := range l.clients {
			if now.Sub(c.seen) > time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	c := l.clients[host]
	if c == nil {
		c = &client{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[host] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}
