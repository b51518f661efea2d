// Package directorytest writes valid directory files of any size for tests
// and benchmarks (kiosk import). It is a test helper, never a product
// command: real files come from the organisation's directory.
package directorytest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
)

// File describes a generated file: Users users numbered from First, each
// with a position and a card; every tenth user has a second row (an
// operator's position and a second card), every seventh card is
// cancelled.
type File struct {
	Users int
	// First is the first user's ID as a number (a 12-digit ID); each
	// test picks its own range so files do not meet in a shared store.
	First uint64
	// SerialBase is added to the user's number to make card serials.
	SerialBase uint64
}

var (
	given  = []string{"Amara", "Owen", "Grace", "Fatima", "Tomasz", "Siobhan", "Kwame", "Élodie", "Rhys", "Priya", "Mary", "John"}
	family = []string{"Okafor", "Price", "Hughes", "Khan", "Nowak", "O'Brien", "Mensah", "Dubois", "Jones", "Patel", "Smith", "Williams"}
	titles = []string{"Dr", "Mr", "Ms", "Mrs", "Prof", ""}
	orgs   = []struct{ code, name string }{
		{"RTH", "Oxford University Hospitals"}, {"A82647", "Riverside Medical Practice"}, {"RJ1", "Guy's and St Thomas', London"},
	}
)

// UserID is the ID of user i (0-based) of f.
func (f File) UserID(i int) domain.UserID {
	return domain.UserID(fmt.Sprintf("%012d", f.First+uint64(i)))
}

// Serial is the serial of user i's first card (second: second=true).
func (f File) Serial(i int, second bool) domain.CardSerial {
	n := f.SerialBase + f.First + uint64(i)
	if second {
		n += 1 << 60
	}
	return domain.CardSerial(fmt.Sprintf("%016X", n))
}

// Rows is how many rows (besides the header) the file has.
func (f File) Rows() int { return f.Users + (f.Users+9)/10 }

// Write writes the file as CSV.
func (f File) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(strings.Join(directory.Columns, ",") + "\n")
	for i := range f.Users {
		g, fam := given[i%len(given)], family[(i/len(given))%len(family)]
		t := titles[i%len(titles)]
		email := strings.ToLower(strings.ReplaceAll(g+"."+fam, "'", "")) + fmt.Sprintf("%d@nhs.net", i)
		o := orgs[i%len(orgs)]
		issued := fmt.Sprintf("20%02d-%02d-%02d", 20+i%5, 1+i%12, 1+i%28)
		expiry := fmt.Sprintf("20%02d-%02d-%02d", 22+i%5, 1+i%12, 1+i%28)
		cancelled := ""
		if i%7 == 3 {
			cancelled = fmt.Sprintf("20%02d-%02d-%02d", 21+i%5, 1+i%12, 1+i%28)
		}
		user := fmt.Sprintf("%s,%s,%s,%q,%s", f.UserID(i), t, g, fam, email)
		fmt.Fprintf(bw, "%s,%s,%q,Clinical Practitioner Access Role,B0001,%s,PIV,%s,%s,%s\n",
			user, o.code, o.name, f.Serial(i, false), issued, expiry, cancelled)
		if i%10 == 0 {
			fmt.Fprintf(bw, "%s,%s,%q,Registration Authority Agent,B0263;B1300,%s,PIV,%s,%s,\n",
				user, o.code, o.name, f.Serial(i, true), issued, expiry)
		}
	}
	return bw.Flush()
}

// WriteFile writes the file into dir and returns its path.
func (f File) WriteFile(dir string) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("directory-%d.csv", f.Users))
	out, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := f.Write(out); err != nil {
		out.Close()
		return "", err
	}
	return path, out.Close()
}
