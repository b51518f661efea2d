package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicas: a primary and a streaming standby of one test's own, over
// TCP on free ports of 127.0.0.1, for failover tests: crash or freeze
// the primary, promote the standby, and see what the kiosk's store does.

// NewTCPCluster is NewCluster listening on 127.0.0.1 at a free port
// (Port) as well as on its socket, so that a URL can name it among
// other hosts and a standby can stream from it.
func NewTCPCluster(tb testing.TB) *Cluster {
	tb.Helper()
	return newCluster(tb, func(c *Cluster) {
		c.run(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync")
	})
}

// NewStandby makes a streaming standby of c (pg_basebackup -R: a copy of
// c's data with standby.signal and primary_conninfo), listening on its
// own free port, and starts it.
func (c *Cluster) NewStandby(tb testing.TB) *Cluster {
	tb.Helper()
	if c.Port == 0 {
		tb.Fatal("a standby streams over TCP: make the primary with NewTCPCluster")
	}
	return newCluster(tb, func(s *Cluster) {
		s.run(filepath.Join(s.bin, "pg_basebackup"), "-D", s.data(), "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port),
			"-U", "postgres", "-R", "-X", "stream", "--no-sync", "-c", "fast")
	})
}

// newCluster makes a cluster's directory, fills its data directory with
// create, and starts it on a free port.
func newCluster(tb testing.TB, create func(c *Cluster)) *Cluster {
	tb.Helper()
	c := prepare(tb)
	create(c)
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	c.Port = port
	c.opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", port, c.dir)
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
	c.Start()
	return c
}

// freePort finds a TCP port nothing listens on now (the server takes it
// a moment later; a clash fails the start, clearly).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Exec runs statements on the cluster's postgres database as the
// superuser.
func (c *Cluster) Exec(stmts ...string) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			c.tb.Fatalf("%s: %v", s, err)
		}
	}
}

// WaitStandby waits until a standby streams from c, synchronously if
// sync (once synchronous_standby_names names it).
func (c *Cluster) WaitStandby(sync bool) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer conn.Close(ctx)
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication
			WHERE state = 'streaming' AND ($1 = false OR sync_state = 'sync')`, sync).Scan(&n)
		if err != nil {
			c.tb.Fatalf("wait for the standby: %v", err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			c.tb.Fatalf("no standby streaming (sync %v) after 30 s", sync)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Crash stops the server as a crash would: at once, nothing flushed
// beyond what was, connections cut (pg_ctl stop -m immediate).
func (c *Cluster) Crash() { c.Stop() }

// Promote makes a standby the primary and waits until it accepts writes.
func (c *Cluster) Promote() {
	c.tb.Helper()
	if err := c.pgCtl("promote", "-w"); err != nil {
		c.tb.Fatalf("promote: %v", err)
	}
}

// Freeze stops the server's processes (SIGSTOP to the postmaster, then
// to each of its children): a hung host, or one cut off by a network
// split. Connections stay open and the kernel still accepts new ones,
// but nothing answers. The test's cleanup thaws it before stopping it.
func (c *Cluster) Freeze() {
	c.tb.Helper()
	pids, err := c.pids()
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(c.Thaw)
	// The postmaster first, so that it starts no child meanwhile.
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil && err != syscall.ESRCH {
			c.tb.Fatalf("freeze %d: %v", pid, err)
		}
	}
}

// Thaw resumes a frozen server (SIGCONT to its processes).
func (c *Cluster) Thaw() {
	pids, err := c.pids()
	if err != nil {
		return // not running: nothing to resume
	}
	for i := len(pids) - 1; i >= 0; i-- {
		syscall.Kill(pids[i], syscall.SIGCONT)
	}
}

// pids are the postmaster's process ID (postmaster.pid's first line)
// and its children's, the postmaster first.
func (c *Cluster) pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return nil, fmt.Errorf("postmaster.pid: %w", err)
	}
	out := []int{pm}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(pm) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}
