package storetest

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// BenchUsersEnv names the environment variable that sets how many users
// the search benchmarks load (BenchUsers), e.g. 1000000.
const BenchUsersEnv = "KIOSK_BENCH_USERS"

// BenchUsers is how many users the search benchmarks load: $KIOSK_BENCH_USERS,
// or 10,000 so that make bench stays short.
func BenchUsers(b *testing.B) int {
	v := os.Getenv(BenchUsersEnv)
	if v == "" {
		return 10_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 {
		b.Fatalf("%s=%q: want a number of users, at least 100", BenchUsersEnv, v)
	}
	return n
}

// Surnames with roughly their frequency per 100,000 people in Britain:
// the common ones make up about 15% of a population, so that "smith"
// matches about 1.3% of users (12,800 of a million), as it would.
var benchFamilies = []struct {
	name string
	per  int
}{
	{"Smith", 1260}, {"Jones", 935}, {"Williams", 700}, {"Taylor", 600}, {"Brown", 560},
	{"Davies", 520}, {"Evans", 450}, {"Wilson", 420}, {"Thomas", 410}, {"Johnson", 390},
	{"Roberts", 380}, {"Robinson", 330}, {"Thompson", 330}, {"Wright", 320}, {"Walker", 310},
	{"White", 300}, {"Edwards", 290}, {"Hughes", 290}, {"Green", 280}, {"Hall", 270},
	{"Lewis", 270}, {"Harris", 270}, {"Clarke", 260}, {"Patel", 260}, {"Jackson", 250},
	{"Wood", 240}, {"Turner", 230}, {"Martin", 230}, {"Cooper", 220}, {"Hill", 220},
	{"Ward", 210}, {"Morris", 210}, {"Moore", 200}, {"Clark", 200}, {"Lee", 200},
	{"King", 200}, {"Baker", 190}, {"Harrison", 190}, {"Morgan", 190}, {"Allen", 190},
	{"James", 180}, {"Scott", 180}, {"Phillips", 170}, {"Watson", 170}, {"Davis", 170},
	{"Parker", 160}, {"Price", 160}, {"Bennett", 160}, {"Young", 160}, {"Griffiths", 150},
}

// The rest of the family names are made of two to four of these: a long
// tail of rare names, some shared by a handful of people.
var benchSyllables = strings.Fields("ab bel cor dan el fen gar hol ish jor kel lin mor nor ost pen quin ros sel tor ul van wen yar zel bri cha dre fro gle hay ivo kra lum mes nix ova pra rik sto")

// Given names, drawn with weights 1/(rank+3): the first is about 6%.
var benchGiven = strings.Fields("Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Henry Leo Alfie Joshua Freddie Archie Ethan Isaac Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella Sophie Ivy Freya Harper Willow Mary Margaret Susan David John Peter Paul Sarah Helen Anne Elizabeth Michael Zoë Élodie Siân Øystein")

var (
	benchFamilyTotal, benchGivenTotal float64
	benchGivenWeight                  []float64
)

func init() {
	for _, f := range benchFamilies {
		benchFamilyTotal += float64(f.per)
	}
	for i := range benchGiven {
		benchGivenWeight = append(benchGivenWeight, 1/float64(i+3))
		benchGivenTotal += benchGivenWeight[i]
	}
}

// BenchPerson is person i of the benchmark population, the same on every
// run: a user with a unique ID, one card with a unique serial, and (for
// three in five) a registration, one in fifty of them locked out. The
// registration has no answers: the search does not read them.
type BenchPerson struct {
	User         domain.User
	Card         domain.Smartcard
	Registration *domain.Registration
}

// NewBenchPerson makes person i (0 ≤ i < 10^12).
func NewBenchPerson(i int) BenchPerson {
	r := rand.New(rand.NewPCG(0x6b696f736b, uint64(i)))
	// i → ID is one-to-one and scatters the IDs: the multiplier is prime
	// to 10^12 (odd, not a multiple of 5).
	hi, lo := bits.Mul64(uint64(i), 738_385_229_147)
	id := domain.UserID(fmt.Sprintf("%012d", (bits.Rem64(hi, lo, 1_000_000_000_000)+12_345)%1_000_000_000_000))
	given := benchGiven[pick(r, benchGivenWeight, benchGivenTotal)]
	var family string
	if x := r.Float64() * 100_000; x < benchFamilyTotal {
		for _, f := range benchFamilies {
			if x -= float64(f.per); x < 0 {
				family = f.name
				break
			}
		}
	} else {
		for range 2 + r.IntN(3) {
			family += benchSyllables[r.IntN(len(benchSyllables))]
		}
		family = strings.ToUpper(family[:1]) + family[1:]
	}
	issued := base.AddDate(0, 0, -r.IntN(700))
	p := BenchPerson{
		User: domain.User{ID: id, Title: "Mx", GivenName: given, FamilyName: family,
			Email: strings.ToLower(given) + "." + strings.ToLower(family) + "@nhs.net", CreatedAt: stored(issued)},
		// splitmix64's finaliser is one-to-one on 64 bits: unique serials.
		Card: domain.Smartcard{Serial: domain.CardSerial(fmt.Sprintf("%016X", mix64(uint64(i)))), UserID: id,
			Type: "PIV", IssuedAt: stored(issued), CertExpiry: stored(issued.AddDate(2, 0, 0))},
	}
	if r.IntN(5) < 3 {
		reg := domain.Registration{UserID: id, Email: p.User.Email, RegisteredAt: stored(issued.Add(time.Hour))}
		if r.IntN(50) == 0 {
			reg.FailedAttempts, reg.LockedOutAt = 3, stored(issued.AddDate(0, 1, 0))
		}
		p.Registration = &reg
	}
	return p
}

func pick(r *rand.Rand, w []float64, total float64) int {
	x := r.Float64() * total
	for i, v := range w {
		if x -= v; x < 0 {
			return i
		}
	}
	return len(w) - 1
}

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// benchQuery is one kind of search people make, drawn for a random user
// of the population (so common names come up as often as they are
// common); found says whether it must find someone.
type benchQuery struct {
	name  string
	make  func(r *rand.Rand, p BenchPerson) string
	found bool
}

var benchQueries = []benchQuery{
	{"Name/Family", func(_ *rand.Rand, p BenchPerson) string { return p.User.FamilyName }, true},
	{"Name/GivenFamily", func(_ *rand.Rand, p BenchPerson) string { return p.User.GivenName + " " + p.User.FamilyName }, true},
	{"Name/FamilyStart", func(r *rand.Rand, p BenchPerson) string { // the start of it, as typed
		f := []rune(p.User.FamilyName)
		return string(f[:min(len(f), 3+r.IntN(4))])
	}, true},
	{"Name/Inside", func(r *rand.Rand, p BenchPerson) string { // four letters from inside it
		f := []rune(p.User.FamilyName)
		if len(f) <= 4 {
			return string(f)
		}
		at := r.IntN(len(f) - 3)
		return string(f[at : at+4])
	}, true},
	{"Name/Absent", func(r *rand.Rand, _ BenchPerson) string { // a name nobody has
		return "Qz" + strings.Repeat(string(rune('a'+r.IntN(26))), 2) + "xv"
	}, false},
	{"Name/Short", func(r *rand.Rand, p BenchPerson) string { // one or two letters
		f := []rune(p.User.FamilyName)
		return string(f[:1+r.IntN(2)])
	}, true},
	{"IDPrefix", func(r *rand.Rand, p BenchPerson) string { return string(p.User.ID[:4+r.IntN(8)]) }, true},
	{"ID", func(_ *rand.Rand, p BenchPerson) string { return p.User.ID.String() }, true},
}

// BenchSearch measures SearchUsers on a store loaded with people 0..n-1
// of the population: one sub-benchmark per kind of query, each reporting
// the median and 99th-percentile time of one search (limit 50, as the
// operator's) after warming up, so that PostgreSQL's cached statements
// have switched to their generic plans (after five runs) before anything
// is timed.
func BenchSearch(b *testing.B, s domain.Store, n int) {
	for _, kind := range benchQueries {
		b.Run(kind.name, func(b *testing.B) {
			ctx := b.Context()
			r := rand.New(rand.NewPCG(uint64(n), uint64(len(kind.name))))
			next := func() string { return kind.make(r, NewBenchPerson(r.IntN(n))) }
			for range 20 {
				if _, err := s.SearchUsers(ctx, next(), 50); err != nil {
					b.Fatal(err)
				}
			}
			var took []time.Duration
			found := 0
			for b.Loop() {
				q := next()
				start := time.Now()
				ms, err := s.SearchUsers(ctx, q, 50)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if kind.found && len(ms) == 0 {
					b.Fatalf("search %q found nobody: the population has this person", q)
				}
				found += len(ms)
			}
			slices.Sort(took)
			at := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
			b.ReportMetric(float64(found)/float64(len(took)), "users/op")
		})
	}
}
