package pgtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Cluster is a throwaway PostgreSQL server of one test's own, which the
// test may stop and start again: the database going away under a running
// kiosk and coming back. It listens only on a Unix socket in its own
// directory, so it collides with no other server.
type Cluster struct {
	tb   testing.TB
	bin  string   // the server's programs (initdb, pg_ctl)
	dir  string   // data directory, socket and log
	as   []string // runs them as the postgres user when the test is root
	opts string
	// URL reaches the cluster's postgres database as the superuser.
	URL string
	// Port is the TCP port on 127.0.0.1 (NewTCPCluster, NewStandby);
	// 0 when the cluster listens only on its socket.
	Port int
}

// NewCluster creates and starts a cluster (initdb, pg_ctl; about a
// second) and removes it when the test ends. Without the PostgreSQL
// server programs the test is skipped, or fails under CI=true.
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c := prepare(tb)
	c.run(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync")
	c.opts = fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off", c.dir)
	c.URL = fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=5432&sslmode=disable&connect_timeout=5", c.dir)
	c.Start()
	return c
}

// prepare makes a cluster's directory, owned by the server's user,
// removed (the server stopped first) when the test ends.
func prepare(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := serverBin()
	if err != nil {
		msg := "PostgreSQL server programs not found (install postgresql): " + err.Error()
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "kiosk-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{tb: tb, bin: bin, dir: dir}
	tb.Cleanup(func() {
		c.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	// initdb refuses to run as root: the server runs as postgres.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root needs a postgres user for the test server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	if err := c.pgCtl("start", "-w", "-l", filepath.Join(c.dir, "log"), "-o", c.opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.tb.Fatalf("start test server: %v\n%s", err, log)
	}
}

// Stop stops the server at once, as a crash or a cut cable would: open
// connections break and new ones are refused.
func (c *Cluster) Stop() {
	c.tb.Helper()
	if err := c.pgCtl("stop", "-w", "-m", "immediate"); err != nil {
		c.tb.Fatalf("stop test server: %v", err)
	}
}

func (c *Cluster) pgCtl(args ...string) error {
	return c.exec(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
}

func (c *Cluster) run(prog string, args ...string) {
	c.tb.Helper()
	if err := c.exec(prog, args...); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *Cluster) exec(prog string, args ...string) error {
	argv := append(append(append([]string(nil), c.as...), prog), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w\n%s", filepath.Base(prog), args, err, out.Bytes())
	}
	return nil
}

// serverBin finds initdb and pg_ctl: on the PATH, else in the newest
// Debian server package.
func serverBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Where the programs really are (PATH may hold links to them).
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(real), "initdb")); err == nil {
				return filepath.Dir(real), nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb and pg_ctl on the PATH or in /usr/lib/postgresql/*/bin")
}
