package secret_test

import (
	"fmt"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// BenchmarkVerifyAnswers checks 1, 2 and 4 right answers against hashes
// made with the production parameters (secret.DefaultArgon2: argon2id,
// 19 MiB, 2 passes, 1 lane), as an unlock does with its 2–4 questions
// for a registration made before answer sets. VerifyAnswers computes
// them in parallel up to GOMAXPROCS at once, so on this machine kind (2
// cores) 4 answers take about two answers' time. The 1-answer figure is
// the unit the visit's time is best compared with across machines.
func BenchmarkVerifyAnswers(b *testing.B) {
	all := []string{"Smith", "Edinburgh", "Rex", "St Marys"}
	hashes := make([]string, len(all))
	for i, a := range all {
		h, err := secret.HashAnswer(secret.DefaultArgon2, a, nil)
		if err != nil {
			b.Fatal(err)
		}
		hashes[i] = h
	}
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("answers=%d", n), func(b *testing.B) {
			for b.Loop() {
				ok, err := secret.VerifyAnswers(secret.DefaultArgon2, hashes[:n], all[:n])
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range ok {
					if !m {
						b.Fatal("a right answer was refused")
					}
				}
			}
		})
	}
}

var benchSetAnswers = map[domain.QuestionID]string{1: "Smith", 2: "Edinburgh", 3: "Rex", 4: "St Marys"}

// BenchmarkAnswerSets: what answer sets cost with the production
// parameters. hash: a registration's 11 hashes (HashAnswerSets, in
// parallel up to GOMAXPROCS), once per registration; verify: an unlock's
// check of its 2–4 answers, one computation whatever their number
// (VerifyAnswerSet on the set of all four).
func BenchmarkAnswerSets(b *testing.B) {
	sets, err := secret.HashAnswerSets(secret.DefaultArgon2, benchSetAnswers, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hash", func(b *testing.B) {
		for b.Loop() {
			if _, err := secret.HashAnswerSets(secret.DefaultArgon2, benchSetAnswers, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		all := sets[len(sets)-1]
		for b.Loop() {
			ok, err := secret.VerifyAnswerSet(secret.DefaultArgon2, all, benchSetAnswers)
			if err != nil || !ok {
				b.Fatalf("right answers: %v, %v", ok, err)
			}
		}
	})
}
