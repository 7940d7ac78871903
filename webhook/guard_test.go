package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/webhook"
)

func TestForbidden(t *testing.T) {
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fd00:ec2::254": true, "100.100.100.200": true, "0.0.0.0": true,
		"::": true, "224.0.0.1": true, "255.255.255.255": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"64:ff9b::a9fe:a9fe": true, "2002:c0a8:101::1": true, "198.18.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false, "::ffff:8.8.8.8": false,
		"64:ff9b::808:808": false, "172.32.0.1": false,
	} {
		if got := webhook.Forbidden(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Forbidden(%s) = %v, want %v", ip, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for u, want := range map[string]string{
		"https://example.com/hook?token=x": "",
		"http://example.com:8080/":         "",
		"http://localhost/":                "", // a name: checked where it resolves, at connect time
		"ftp://example.com/":               "http or https",
		"/hook":                            "http or https",
		"http:///x":                        "no host",
		"http://user:pw@example.com/":      "user name",
		"http://127.0.0.1:8080/":           "not a public address",
		"http://[::1]/":                    "not a public address",
		"http://169.254.169.254/latest":    "not a public address",
		"http://example.com/" + strings.Repeat("a", webhook.MaxURLBytes): "over",
		"http://exa mple.com/": "not a URL",
	} {
		err := webhook.CheckURL(u, false)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckURL(%.60s): %v, want ok", u, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckURL(%.60s): %v, want %q", u, err, want)
		}
	}
	if err := webhook.CheckURL("http://127.0.0.1:8080/", true); err != nil {
		t.Errorf("allowed private: %v", err)
	}
}

// hmacHex is the hex of HMAC-SHA256(secret, msg), computed here by hand.
func hmacHex(secret []byte, msg string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignVerify(t *testing.T) {
	secret, body, now := []byte("s3cret"), []byte(`{"jobId":"x"}`), time.Unix(1_800_000_000, 0)
	sig := webhook.Sign(secret, now.Unix(), body)
	// What any receiver computes: the scheme of DESIGN.md, by hand.
	if want := "sha256=" + hmacHex(secret, "1800000000."+string(body)); sig != want {
		t.Fatalf("Sign = %s, want %s", sig, want)
	}
	if err := webhook.Verify(secret, "1800000000", sig, body, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, err := range map[string]error{
		"other body":   webhook.Verify(secret, "1800000000", sig, []byte(`{"jobId":"y"}`), 5*time.Minute, now),
		"other secret": webhook.Verify([]byte("other"), "1800000000", sig, body, 5*time.Minute, now),
		"other time":   webhook.Verify(secret, "1800000001", sig, body, 5*time.Minute, now),
		"replayed":     webhook.Verify(secret, "1800000000", sig, body, 5*time.Minute, now.Add(time.Hour)),
		"no time":      webhook.Verify(secret, "", sig, body, 5*time.Minute, now),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

// FuzzCheckURL: whatever it is given, CheckURL does not panic, and a URL
// it accepts is http or https, names a host, carries no user, and is no
// literal address Forbidden refuses.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hook", "http://127.0.0.1/", "http://[::ffff:10.0.0.1]:80/", "http://u@h/",
		"HTTP://EXAMPLE.COM", "http://0x7f000001/", "http://2130706433/", "http://[fe80::1%25eth0]/", "//x", "http://%31%32%37.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if webhook.CheckURL(raw, false) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q: %+v %v", raw, u, err)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && webhook.Forbidden(ip) {
			t.Fatalf("accepted %q, a forbidden literal %s", raw, ip)
		}
	})
}
