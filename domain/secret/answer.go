package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are argon2id cost settings.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2 follows OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Upper bounds on parameters read back from a stored hash, so a tampered row
// cannot make the kiosk allocate gigabytes.
const (
	maxMemory  = 256 * 1024
	maxTime    = 16
	maxThreads = 16
	maxKeyLen  = 64
)

var ErrMalformedHash = errors.New("malformed answer hash")

// ErrWeakHash means a stored answer hash is cheaper to break than the
// service's configured minimum: someone who can write the database must
// not be able to downgrade the hashes.
var ErrWeakHash = errors.New("answer hash is weaker than the configured minimum")

var folder = cases.Fold()

// NormaliseAnswer makes answers that people consider the same compare equal:
// Unicode NFKC, case-folded, trimmed, inner runs of white space collapsed.
func NormaliseAnswer(s string) string {
	s = norm.NFKC.String(s)
	s = folder.String(s)
	return strings.Join(strings.Fields(s), " ")
}

// HashAnswer returns the PHC-format argon2id hash of the normalised answer.
func HashAnswer(p Argon2Params, answer string, r io.Reader) (string, error) {
	norm := NormaliseAnswer(answer)
	if norm == "" {
		return "", errors.New("answer is empty")
	}
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("draw salt: %w", err)
	}
	return encodeHash(p, salt, idKey([]byte(norm), salt, p.Time, p.Memory, p.Threads, p.KeyLen)), nil
}

// VerifyAnswer reports whether answer matches the stored hash, in constant
// time. The parameters are read from the hash, so a hash cheaper than min
// (less memory, fewer passes, a shorter salt or key) is refused with
// ErrWeakHash rather than checked.
func VerifyAnswer(min Argon2Params, encoded, answer string) (bool, error) {
	match, err := VerifyAnswers(min, []string{encoded}, []string{answer})
	if err != nil {
		return false, err
	}
	return match[0], nil
}

// argon2Slots bounds the argon2id computations running at once in this
// process, whatever the number of visits: each holds its whole memory
// cost (19 MiB by default) while it runs.
var argon2Slots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// argon2Running and argon2Waiting count the computations holding a slot
// and those waiting for one.
var argon2Running, argon2Waiting atomic.Int32

// argon2Idle gives the memory back to the system once no computation has
// run for a moment (after a visit's answers, not between them).
var argon2Idle = time.AfterFunc(time.Hour, func() {
	if argon2Running.Load() == 0 && argon2Waiting.Load() == 0 {
		debug.FreeOSMemory()
	}
})

// releaseAfter is how long the memory stays for the next computation.
const releaseAfter = time.Second

// idKey is argon2.IDKey in a slot. Its memory (19 MiB by default) is
// garbage as soon as it returns, and with the default GC pacing a few of
// them pile up before a collection (a kiosk's resident memory went from
// 27 MB to 80–90 MB over one unlock). So when another computation waits
// for this slot, a collection first lets it reuse this one's memory; and
// after the last, a collection too, and a second later the memory goes
// back to the system. Returning
// it between computations would cost each a fresh 19 MiB of page faults
// (about 15 ms, as much as the computation).
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	argon2Waiting.Add(1)
	argon2Slots <- struct{}{}
	argon2Running.Add(1) // before leaving the waiters: never both 0 meanwhile
	argon2Waiting.Add(-1)
	key := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	if argon2Waiting.Load() > 0 {
		runtime.GC()
	}
	if argon2Running.Add(-1) == 0 && argon2Waiting.Load() == 0 {
		// The last for now: collected, so that the next visit's answers
		// reuse this memory rather than take more.
		runtime.GC()
		argon2Idle.Reset(releaseAfter)
	}
	<-argon2Slots
	return key
}

// VerifyAnswers checks each answer against its stored hash (answers[i]
// against encoded[i]) and reports which match. Every hash is read first,
// so a malformed or weak one is refused before any work; then all are
// computed, in parallel up to the process-wide bound, and all are waited
// for, so the time taken says nothing about which answer was wrong.
func VerifyAnswers(min Argon2Params, encoded, answers []string) ([]bool, error) {
	if len(encoded) != len(answers) {
		return nil, fmt.Errorf("%d answers for %d hashes", len(answers), len(encoded))
	}
	type parsed struct {
		p          Argon2Params
		salt, want []byte
	}
	hs := make([]parsed, len(encoded))
	for i, e := range encoded {
		p, salt, want, err := parseHash(e)
		if err != nil {
			return nil, fmt.Errorf("answer %d: %w", i+1, err)
		}
		if err := checkStrength(min, p, salt, want); err != nil {
			return nil, fmt.Errorf("answer %d: %w", i+1, err)
		}
		hs[i] = parsed{p, salt, want}
	}
	match := make([]bool, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			got := idKey([]byte(NormaliseAnswer(answers[i])), h.salt, h.p.Time, h.p.Memory, h.p.Threads, uint32(len(h.want)))
			match[i] = subtle.ConstantTimeCompare(got, h.want) == 1
		})
	}
	wg.Wait()
	return match, nil
}

func checkStrength(min, p Argon2Params, salt, want []byte) error {
	if p.Memory < min.Memory || p.Time < min.Time || uint32(len(salt)) < min.SaltLen || uint32(len(want)) < min.KeyLen {
		return fmt.Errorf("%w: m=%d,t=%d with a %d-byte salt and %d-byte key", ErrWeakHash, p.Memory, p.Time, len(salt), len(want))
	}
	return nil
}

func parseHash(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: version", ErrMalformedHash)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("%w: parameters", ErrMalformedHash)
	}
	if p.Memory == 0 || p.Memory > maxMemory || p.Time == 0 || p.Time > maxTime || p.Threads == 0 || p.Threads > maxThreads {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: key", ErrMalformedHash)
	}
	return p, salt, key, nil
}
