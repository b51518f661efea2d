package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// lossyProxy relays connections to a PostgreSQL server over TCP and,
// when armed, cuts one just after a write has committed: it withholds
// the ReadyForQuery that ends the write's exchange (sent by the server
// only after the commit) and closes both sides. The client then cannot
// know whether its write took, as after a crash or a network split at
// the worst moment.
type lossyProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Int32
	lost   atomic.Int32
	mu     sync.Mutex
	conns  []net.Conn
}

var _ storetest.LossyLink = (*lossyProxy)(nil)

func newLossyProxy(t testing.TB, target string) *lossyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c)
		}
	}()
	return p
}

func (p *lossyProxy) LoseNextCommit() { p.armed.Add(1) }
func (p *lossyProxy) Lost() int       { return int(p.lost.Load()) }

// fire takes one arming, if any.
func (p *lossyProxy) fire() bool {
	for {
		n := p.armed.Load()
		if n <= 0 {
			return false
		}
		if p.armed.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (p *lossyProxy) relay(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	defer client.Close()
	defer server.Close()
	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	// Server to client, message by message: a type byte and a length
	// that counts itself (no SSL: the URL says sslmode=disable).
	r, w := bufio.NewReader(server), bufio.NewWriter(client)
	var tag string // the last CommandComplete's, since ReadyForQuery
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch head[0] {
		case 'C':
			tag, _, _ = strings.Cut(strings.TrimRight(string(body), "\x00"), " ")
		case 'Z':
			// 'I': outside a transaction, so what the tag did is committed.
			write := tag == "INSERT" || tag == "UPDATE" || tag == "DELETE" || tag == "COMMIT" || tag == "MERGE"
			if body[0] == 'I' && write && p.fire() {
				p.lost.Add(1)
				return
			}
			tag = ""
		}
		w.Write(head[:])
		w.Write(body)
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// lossyURL is dbURL reached through a new lossy proxy.
func lossyURL(t testing.TB, dbURL string) (string, *lossyProxy) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host == "" || strings.HasPrefix(u.Hostname(), "/") {
		t.Skip("the test server is not reached over TCP, which the lossy proxy relays")
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := newLossyProxy(t, target)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String(), p
}

// withLossyLink is the conformance suite's store behind a lossy proxy.
func withLossyLink(dbURL string) storetest.Option {
	return storetest.WithLossyLink(func(t *testing.T) (domain.Store, storetest.LossyLink) {
		u, p := lossyURL(t, dbURL)
		return open(t, u), p
	})
}

// TestLossyProxyCuts: the proxy really loses a committed write's answer
// (so the suite's tests of lost answers test something), and only when
// armed.
func TestLossyProxyCuts(t *testing.T) {
	dbURL := throwawayDB(t)
	if _, err := open(t, dbURL).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, p := lossyURL(t, dbURL)
	s := open(t, u)
	ctx := t.Context()
	if err := rawExec(ctx, s, `CREATE TABLE probe (n int)`); err != nil {
		t.Fatal(err)
	}
	p.LoseNextCommit()
	err := rawExec(ctx, s, `INSERT INTO probe VALUES (1)`)
	if err == nil || p.Lost() != 1 {
		t.Fatalf("armed: insert = %v, lost %d; want an error and one lost answer", err, p.Lost())
	}
	if !errors.Is(translate(err), domain.ErrStoreUnavailable) {
		t.Fatalf("a lost answer: %v, want it unavailable", err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM probe`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the lost answer: %d, %v; want 1 (it committed)", n, err)
	}
	if err := rawExec(ctx, s, `INSERT INTO probe VALUES (2)`); err != nil || p.Lost() != 1 {
		t.Fatalf("disarmed: insert = %v, lost %d", err, p.Lost())
	}
}
