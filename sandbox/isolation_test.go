//go:build linux

package sandbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// A planter leaves all it can of itself behind: its source, stdin and
// output hold a marker, and it copies the marker into its heap, every
// shared writable mapping it can find, files in each scratch directory,
// SysV IPC objects, an abstract unix socket kept alive by a descriptor
// cycle, bound and listening ports and the network counters. A long
// comment makes its code longer than the hunter's, as an earlier job's
// message would be.
const planterCode = `import ctypes, os, socket, sys
M = %q
MB = M.encode()
got = sys.stdin.buffer.read()
heap = [MB * 4096 for _ in range(64)]
libc = ctypes.CDLL(None, use_errno=True)
for line in open('/proc/self/maps'):
    f = line.split()
    if f[1][1] == 'w' and f[1][3] == 's':
        lo, hi = (int(x, 16) for x in f[0].split('-'))
        ctypes.memmove(lo, MB * ((hi - lo) // len(MB)), (hi - lo) // len(MB) * len(MB))
        print('wrote into a shared mapping', f[0])
for d in ('/tmp', '/dev/shm', '/work'):
    with open(os.path.join(d, M), 'w') as f:
        f.write(M)
key = 0x4d41524b
print('ipc', libc.shmget(key, 4096, 0o1666), libc.msgget(key, 0o1666), libc.semget(key, 1, 0o1666))
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
a.bind('\0' + M)
a.listen()
b, c = socket.socketpair()
socket.send_fds(b, [b'x'], [a.fileno(), b.fileno(), c.fileno()])
keep = []
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    s.bind(('0.0.0.0', 4242))
    if kind == socket.SOCK_STREAM:
        s.listen()
    keep.append(s)
    t = socket.socket(socket.AF_INET, kind)
    try:
        t.connect(('127.0.0.1', 4242))
        t.send(MB)
    except OSError as e:
        print('net', e.errno)
print(M, len(got))
print('planted')
# %s
`

// A hunter looks for the marker, which it knows only as two halves it never
// joins before it has scanned its memory: every readable mapping, through
// /proc/self/mem or, where it may not open that, in place. Then it looks for any shared mapping, files, IPC objects,
// sockets, port bindings and network counters that it did not make.
const hunterCode = `import ctypes, os, socket
P, S = %q, %q
found = []
lines = open('/proc/net/snmp').read().splitlines() + open('/proc/net/netstat').read().splitlines()
for h, v in zip(lines[::2], lines[1::2]):
    for name, val in zip(h.split()[1:], v.split()[1:]):
        if val != '0' and name not in ('Forwarding', 'DefaultTTL', 'RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn'):
            found.append('counter %%s %%s=%%s' %% (h.split()[0], name, val))
for line in open('/proc/net/snmp6'):
    if line.split()[1] != '0':
        found.append('counter ' + line.strip())
Pb, Sb = P.encode(), S.encode()
try:
    mem = open('/proc/self/mem', 'rb', buffering=0)
except PermissionError:  # a warm run is not dumpable: read it in place
    mem = None
for line in open('/proc/self/maps').read().splitlines():
    f = line.split()
    if f[1][3] == 's':
        found.append('shared mapping ' + line)
    if f[1][0] != 'r' or f[-1] in ('[vvar]', '[vvar_vclock]', '[vsyscall]'):
        continue
    lo, hi = (int(x, 16) for x in f[0].split('-'))
    if mem is None:
        data = ctypes.string_at(lo, hi - lo)
    else:
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
    i = data.find(Pb)
    while i >= 0:
        if data[i + len(Pb):i + len(Pb) + len(Sb)] == Sb:
            found.append('marker in memory ' + line)
            break
        i = data.find(Pb, i + 1)
    data = None
for d in ('/tmp', '/dev/shm', '/work'):
    for n in os.listdir(d):
        if n != 'main.py':
            found.append('file %%s/%%s' %% (d, n))
libc = ctypes.CDLL(None, use_errno=True)
key = 0x4d41524b
for what, r in (('shm', libc.shmget(key, 0, 0)), ('msg', libc.msgget(key, 0)), ('sem', libc.semget(key, 0, 0))):
    if r >= 0:
        found.append('ipc ' + what)
for t in ('shm', 'msg', 'sem'):
    if len(open('/proc/sysvipc/' + t).read().splitlines()) > 1:
        found.append('ipc table ' + t)
for t in ('tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6', 'unix', 'netlink', 'packet'):
    rows = open('/proc/net/' + t).read().splitlines()[1:]
    if t == 'netlink':
        rows = [r for r in rows if r.split()[2] not in ('0', str(os.getpid()))]  # the kernel's, its own
    if rows:
        found.append('net table %%s: %%s' %% (t, rows[:3]))
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(('0.0.0.0', 4242))
    except OSError as e:
        found.append('port 4242 taken: %%s' %% e)
    s.close()
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    u.connect('\0' + P + S)
    found.append('abstract socket connected')
except OSError:
    pass
for x in found:
    print('FOUND', x)
print('hunted')
`

// marker returns a fresh marker as its two halves.
func marker() (string, string) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return "pl" + h[:12], h[12:] + "nt"
}

// runner runs one program somewhere: cold, or on a given warm slot.
type runner func(code string, stdin []byte) (*onpyrunner.Result, error)

func coldRunner(code string, stdin []byte) (*onpyrunner.Result, error) {
	return cold.try(code, corpusLimits, stdin)
}

func slotRunner(sl *sandbox.Slot) runner {
	return func(code string, stdin []byte) (*onpyrunner.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		spec := sandbox.Spec{Code: []byte(code), Limits: corpusLimits, Stdin: strings.NewReader(string(stdin))}
		return sl.Run(ctx, spec)
	}
}

// plant runs a planter with a fresh marker and returns the marker's halves.
func plant(r runner) (string, string, error) {
	p, s := marker()
	m := p + s
	res, err := r(fmt.Sprintf(planterCode, m, strings.Repeat(m+" ", 800)), []byte(strings.Repeat(m+"\n", 1000)))
	if err != nil {
		return "", "", fmt.Errorf("planter: %w", err)
	}
	if !strings.Contains(res.Stdout, "planted") || !strings.Contains(res.Stdout, m) {
		return "", "", fmt.Errorf("the planter did not plant: %s", show(res))
	}
	return p, s, nil
}

// hunt runs a hunter for the marker and fails t for each trace it finds.
func hunt(t *testing.T, r runner, p, s string) {
	t.Helper()
	res, err := r(fmt.Sprintf(hunterCode, p, s), nil)
	if err != nil {
		t.Fatalf("hunter: %v", err)
	}
	if !strings.HasSuffix(res.Stdout, "hunted\n") {
		t.Fatalf("the hunter did not finish: %s", show(res))
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(line, "FOUND") {
			t.Errorf("a later run found: %s", line)
		}
	}
}

// TestNoTraceOfEarlierJob: on one warm slot, on several, and cold, a run
// finds nothing that an earlier run planted.
func TestNoTraceOfEarlierJob(t *testing.T) {
	sandboxFor(t)
	plantOrFail := func(t *testing.T, r runner) (string, string) {
		t.Helper()
		p, s, err := plant(r)
		if err != nil {
			t.Fatal(err)
		}
		return p, s
	}
	t.Run("warm one slot", func(t *testing.T) {
		r := slotRunner(newSlot(t))
		for range 3 {
			p, s := plantOrFail(t, r)
			hunt(t, r, p, s)
		}
	})
	t.Run("warm several slots", func(t *testing.T) {
		rs := []runner{slotRunner(newSlot(t)), slotRunner(newSlot(t)), slotRunner(newSlot(t))}
		markers := make([][2]string, len(rs))
		errs := make([]error, len(rs))
		var wg sync.WaitGroup
		for i, r := range rs {
			wg.Go(func() { markers[i][0], markers[i][1], errs[i] = plant(r) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rs {
			for _, m := range markers {
				hunt(t, r, m[0], m[1])
			}
		}
	})
	t.Run("cold", func(t *testing.T) {
		p, s := plantOrFail(t, coldRunner)
		hunt(t, coldRunner, p, s)
	})
}

func newSlot(t *testing.T) *sandbox.Slot {
	t.Helper()
	sl, err := sandboxFor(t).NewSlot("python")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	return sl
}

// TestNetNamespaceAfterSockets: a warm slot's run gets a fresh network
// namespace exactly when the run before it made a socket (socket or
// socketpair, of any family); runs that make none share one, which they
// leave as they found it.
func TestNetNamespaceAfterSockets(t *testing.T) {
	r := slotRunner(newSlot(t))
	ns := func(code string) string {
		t.Helper()
		res, err := r(code+"\nimport os\nprint(os.readlink('/proc/self/ns/net'))", nil)
		if err != nil || res.Verdict != onpyrunner.OK {
			t.Fatalf("%q: %+v %v", code, res, err)
		}
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		return lines[len(lines)-1]
	}
	first := ns("pass")
	if again := ns("print(1)"); again != first {
		t.Fatalf("after a run without sockets: namespace %s, then %s; want the same", first, again)
	}
	for _, code := range []string{
		"import socket\nsocket.socketpair()",
		"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
		"import socket\ns = socket.socket(socket.AF_UNIX)\ns.bind('\\0onpy-abstract')",
	} {
		before := ns(code)
		after := ns("pass")
		if after == before {
			t.Errorf("after %q: the next run kept namespace %s; want a fresh one", code, before)
		}
		if again := ns("pass"); again != after {
			t.Errorf("after a run without sockets following %q: %s, then %s; want the same", code, after, again)
		}
	}
	// The abstract name went with its namespace: a run may bind it again
	// (ns fails the test where it cannot).
	ns("import socket\ns = socket.socket(socket.AF_UNIX)\ns.bind('\\0onpy-abstract')")
}
