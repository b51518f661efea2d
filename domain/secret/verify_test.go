package secret

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestVerifyAnswers(t *testing.T) {
	answers := []string{"Smith", "Edinburgh", "Rex"}
	hashes := make([]string, len(answers))
	for i, a := range answers {
		h, err := HashAnswer(cheap, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = h
	}
	weak, err := HashAnswer(Argon2Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, "Rex", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		hashes  []string
		given   []string
		want    []bool
		wantErr error
	}{
		{"all right", hashes, []string{" smith", "EDINBURGH", "rex"}, []bool{true, true, true}, nil},
		{"first wrong", hashes, []string{"Smyth", "Edinburgh", "Rex"}, []bool{false, true, true}, nil},
		{"middle wrong", hashes, []string{"Smith", "Glasgow", "Rex"}, []bool{true, false, true}, nil},
		{"last wrong", hashes, []string{"Smith", "Edinburgh", "Max"}, []bool{true, true, false}, nil},
		{"all wrong", hashes, []string{"a", "b", "c"}, []bool{false, false, false}, nil},
		{"none", nil, nil, []bool{}, nil},
		{"malformed among good ones", []string{hashes[0], "plain", hashes[2]}, answers, nil, ErrMalformedHash},
		{"weaker than the minimum", []string{hashes[0], hashes[1], weak}, answers, nil, ErrWeakHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyAnswers(cheap, tc.hashes, tc.given)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && !slices.Equal(got, tc.want)) {
				t.Fatalf("VerifyAnswers = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := VerifyAnswers(cheap, hashes, answers[:2]); err == nil {
		t.Fatal("two answers for three hashes accepted")
	}
}

// However many visits check answers at once, no more argon2id
// computations run than there are slots: each holds its memory cost.
func TestVerifyAnswersWaitsForASlot(t *testing.T) {
	h, err := HashAnswer(cheap, "Smith", nil)
	if err != nil {
		t.Fatal(err)
	}
	for range cap(argon2Slots) {
		argon2Slots <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		match, err := VerifyAnswers(cheap, []string{h, h}, []string{"Smith", "Jones"})
		if err == nil && fmt.Sprint(match) != "[true false]" {
			err = fmt.Errorf("match = %v", match)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("answers checked while every slot was taken (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	for range cap(argon2Slots) {
		<-argon2Slots
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
