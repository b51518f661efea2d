package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// cmdImport imports a directory file (kiosk import FILE.csv): all of it,
// or nothing and the problems found, by line and column.
func cmdImport(ctx context.Context, e *runEnv, args []string) error {
	rest, err := e.parse(args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: kiosk import FILE.csv (the columns are in the README, \"Importing users from the directory\")")
	}
	path := rest[0]
	// The audit row is chained like every other: the key is needed.
	keys, err := secret.LoadKEK(e.cfg.KEKFile)
	if err != nil {
		return err
	}
	log, closeLog, err := e.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open directory file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open directory file: %w", err)
	}
	s, err := e.openStore(ctx, keys, log)
	if err != nil {
		return err
	}
	defer s.Close()

	r := directory.NewReader(path, f, directory.Options{ActivityCodes: e.cfg.ActivityCodes})
	bar := startProgress(e.stderr, info.Size(), r.BytesRead)
	start := time.Now()
	counts, err := domain.DirectoryImport{Store: s, Clock: domain.SystemClock{}, Terminal: e.cfg.Terminal}.Import(ctx, r)
	bar.stop()
	took := time.Since(start).Round(time.Millisecond)
	var ip *domain.ImportProblems
	if errors.As(err, &ip) {
		log.Error("import refused", "file", path, "problems", ip.Total)
		printProblems(e.stderr, ip)
		return fmt.Errorf("%s: %d problem(s) found, nothing was imported", path, ip.Total)
	}
	if err != nil {
		log.Error("import", "file", path, "err", err)
		return err
	}
	log.Info("import", "file", path, "rows", counts.Rows, "added", counts.Added, "updated", counts.Updated,
		"unchanged", counts.Unchanged, "took", took.String())
	fmt.Fprintf(e.stdout, "%s: %d rows in %s; users: %s\n", path, counts.Rows, took, counts)
	return nil
}

// printProblems lists a refused file's problems, one a line.
func printProblems(w io.Writer, ip *domain.ImportProblems) {
	unknownCode := false
	for _, p := range ip.Problems {
		fmt.Fprintf(w, "  %s\n", p)
		unknownCode = unknownCode || strings.Contains(p.Problem, "unknown activity code")
	}
	if more := ip.Total - len(ip.Problems); more > 0 {
		fmt.Fprintf(w, "  … and %d more (the first %d are shown)\n", more, len(ip.Problems))
	}
	if unknownCode {
		fmt.Fprintln(w, "  (a deployment's other activity codes are accepted once named with --activity-codes or KIOSK_ACTIVITY_CODES)")
	}
}

// activityCodes reads a comma-separated list of activity codes.
func activityCodes(p *[]domain.ActivityCode) flag.Value {
	return value[[]domain.ActivityCode]{p, func(s string) ([]domain.ActivityCode, error) {
		var out []domain.ActivityCode
		for _, c := range strings.Split(s, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			code, err := domain.ParseActivityCode(c)
			if err != nil {
				return nil, fmt.Errorf("is not valid: %w", err)
			}
			out = append(out, code)
		}
		return out, nil
	}, func(cs []domain.ActivityCode) string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = string(c)
		}
		return strings.Join(out, ",")
	}}
}

// progress draws a bar on a terminal while a file is read, then says the
// store is merging it; elsewhere (a pipe, a log) it draws nothing.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	w    io.Writer
}

// progressEvery is how often the bar is redrawn.
const progressEvery = 200 * time.Millisecond

func startProgress(w io.Writer, size int64, read func() int64) *progress {
	p := &progress{done: make(chan struct{}), w: w}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(f.Fd()) || size <= 0 {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			fmt.Fprint(w, "\r"+progressLine(read(), size, 30)+"\x1b[K")
			select {
			case <-p.done:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-t.C:
			}
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// progressLine is the bar for n of size bytes, width cells wide.
func progressLine(n, size int64, width int) string {
	n = min(max(n, 0), size)
	filled := int(int64(width) * n / size)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	if n == size {
		return fmt.Sprintf("%s 100%% read; merging into the store…", bar)
	}
	return fmt.Sprintf("%s %3d%% of %s read", bar, 100*n/size, megabytes(size))
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
