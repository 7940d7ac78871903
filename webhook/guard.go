package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"syscall"
)

// MaxURLBytes caps a callback URL.
const MaxURLBytes = 2048

// CheckURL says what is wrong with a callback URL, in words for its
// submitter: it must be absolute http or https with a host and no user
// name; a literal address must be public unless allowPrivate. A host name
// is checked where it resolves, at each connection (Guard).
func CheckURL(raw string, allowPrivate bool) error {
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("over %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http or https URL")
	case u.Hostname() == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("the URL may not carry a user name or password (put a token in the path or query)")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && Forbidden(ip) {
		return fmt.Errorf("%s is not a public address; this server sends webhooks to public addresses only", ip)
	}
	return nil
}

// Forbidden reports whether ip is an address a webhook must not reach by
// default: loopback, private, link-local (cloud metadata at 169.254.169.254
// among them), shared (100.64/10), unspecified, multicast, reserved, or an
// IPv6 form of any of these.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	// NAT64 and 6to4 addresses carry an IPv4 address: judge that.
	if b := ip.As16(); nat64.Contains(ip) {
		return Forbidden(netip.AddrFrom4([4]byte(b[12:16])))
	} else if sixToFour.Contains(ip) {
		return Forbidden(netip.AddrFrom4([4]byte(b[2:6])))
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	reserved  = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("100::/64"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
)

// RefusedError is a connection the guard refused: its address is not
// public.
type RefusedError struct{ Addr netip.Addr }

// Error says which address was refused.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("webhook: %s is not a public address; refused", e.Addr)
}

// Guard is a net.Dialer's Control that refuses to connect to a Forbidden
// address: it sees the address the name resolved to, at connect time, so
// a name that resolves to a public address when submitted and to a
// private one later is refused too.
func Guard(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	if Forbidden(ap.Addr()) {
		return &RefusedError{ap.Addr()}
	}
	return nil
}
