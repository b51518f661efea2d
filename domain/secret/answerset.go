package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// answerSetLabel starts every answer set's argon2id input, so that it can
// never be taken for a single answer's.
const answerSetLabel = "kiosk answer set v1"

// answerSetInput is what an answer set's hash is of: the label, then for
// each question in ascending order its ID and normalised answer, each
// length-prefixed, so that no two different sets of answers give the same
// input. ok is false when an answer is missing or empty once normalised.
func answerSetInput(qs []domain.QuestionID, answers map[domain.QuestionID]string) ([]byte, bool) {
	b := []byte(answerSetLabel)
	for _, q := range slices.Sorted(slices.Values(qs)) {
		a, ok := answers[q]
		norm := NormaliseAnswer(a)
		if !ok || norm == "" {
			return nil, false
		}
		b = binary.AppendUvarint(b, uint64(q))
		b = binary.AppendUvarint(b, uint64(len(norm)))
		b = append(b, norm...)
	}
	return b, true
}

// HashAnswerSets hashes a registration's answers (question → answer as
// typed) as answer sets: one argon2id hash, with its own salt, of the
// answers to each set of questions an unlock may ask, together
// (domain.DrawableSets). They are computed in parallel within the
// process-wide bound: 11 for 4 questions, about 6 computations' time on 2
// cores, paid once at registration so that every unlock pays one.
func HashAnswerSets(p Argon2Params, answers map[domain.QuestionID]string, r io.Reader) ([]domain.AnswerSet, error) {
	var qs []domain.QuestionID
	for q := range answers {
		qs = append(qs, q)
	}
	sets := domain.DrawableSets(qs)
	if r == nil {
		r = rand.Reader
	}
	out := make([]domain.AnswerSet, len(sets))
	inputs := make([][]byte, len(sets))
	salts := make([][]byte, len(sets))
	for i, set := range sets {
		in, ok := answerSetInput(set, answers)
		if !ok {
			return nil, errors.New("answer is empty")
		}
		inputs[i], salts[i] = in, make([]byte, p.SaltLen)
		if _, err := io.ReadFull(r, salts[i]); err != nil {
			return nil, fmt.Errorf("draw salt: %w", err)
		}
	}
	var wg sync.WaitGroup
	for i, set := range sets {
		wg.Go(func() {
			key := idKey(inputs[i], salts[i], p.Time, p.Memory, p.Threads, p.KeyLen)
			out[i] = domain.AnswerSet{Questions: set, Hash: encodeHash(p, salts[i], key)}
		})
	}
	wg.Wait()
	return out, nil
}

// VerifyAnswerSet reports whether answers (question → answer as typed)
// are the answers set was made of, with one argon2id computation and a
// constant-time comparison: it says whether all are right, never which
// is wrong. As VerifyAnswer, a hash cheaper than min is refused with
// ErrWeakHash rather than checked. An answer missing for one of set's
// questions is an error: the caller asks the set's questions.
func VerifyAnswerSet(min Argon2Params, set domain.AnswerSet, answers map[domain.QuestionID]string) (bool, error) {
	p, salt, want, err := parseHash(set.Hash)
	if err != nil {
		return false, err
	}
	if err := checkStrength(min, p, salt, want); err != nil {
		return false, err
	}
	for _, q := range set.Questions {
		if _, ok := answers[q]; !ok {
			return false, fmt.Errorf("no answer to question %d of the set", q)
		}
	}
	in, ok := answerSetInput(set.Questions, answers)
	if !ok {
		// A blank answer is wrong, but takes the time a right one would,
		// so that timing says nothing.
		in = []byte(answerSetLabel)
	}
	got := idKey(in, salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return ok && subtle.ConstantTimeCompare(got, want) == 1, nil
}

// encodeHash is the PHC string of an argon2id key.
func encodeHash(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}
