package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseUserID(t *testing.T) {
	for _, in := range []string{"555001799894", "5550 0179 9894", " 5550-0179-9894 "} {
		id, err := ParseUserID(in)
		if err != nil || id != "555001799894" || id.String() != "5550 0179 9894" {
			t.Errorf("ParseUserID(%q) = %q, %v", in, id, err)
		}
	}
	for _, in := range []string{"", "55500179989", "5550017998945", "55500179989x", "٥٥٥٠٠١٧٩٩٨٩٤"} {
		if _, err := ParseUserID(in); err == nil {
			t.Errorf("ParseUserID(%q) accepted", in)
		}
	}
}

func TestParseCardSerial(t *testing.T) {
	s, err := ParseCardSerial("4082a001132f2817")
	if err != nil || s != "4082A001132F2817" {
		t.Fatalf("got %q, %v", s, err)
	}
	for _, in := range []string{"", "4082A001132F281", "4082A001132F281G", "4082A001132F28170"} {
		if _, err := ParseCardSerial(in); err == nil {
			t.Errorf("ParseCardSerial(%q) accepted", in)
		}
	}
}

func TestPositionServices(t *testing.T) {
	tests := []struct {
		codes []ActivityCode
		want  []Service
	}{
		{[]ActivityCode{ActivitySponsor}, []Service{ServiceUnlock, ServiceAssistedRenewal, ServiceCancel, ServiceClearLockOut, ServiceAuditTrail}},
		{[]ActivityCode{ActivityLocalSCA}, []Service{ServiceUnlock, ServiceAssistedRenewal, ServiceCancel, ServiceClearLockOut, ServiceAuditTrail}},
		{[]ActivityCode{ActivityRAAIDChecker}, []Service{ServiceRepair, ServiceCancel, ServiceAuditTrail}},
		{[]ActivityCode{ActivitySponsor, ActivityRAAIDChecker}, []Service{ServiceUnlock, ServiceRepair, ServiceAssistedRenewal, ServiceCancel, ServiceClearLockOut, ServiceAuditTrail}},
		{[]ActivityCode{ActivityBasicUserRole}, nil},
	}
	for _, tt := range tests {
		p := Position{ActivityCodes: tt.codes}
		got := p.Services()
		if len(got) != len(tt.want) {
			t.Fatalf("%v: got %v, want %v", tt.codes, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("%v: got %v, want %v", tt.codes, got, tt.want)
			}
		}
		if p.IsOperator() != (len(tt.want) > 0) {
			t.Fatalf("%v: IsOperator wrong", tt.codes)
		}
	}
	if (Position{ActivityCodes: []ActivityCode{ActivityRAAIDChecker}}).Allows(ServiceUnlock) {
		t.Fatal("RAA ID Checker must not unlock")
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewCode(nil)
		if err != nil || len(c) != CodeDigits {
			t.Fatalf("NewCode = %q, %v", c, err)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Fatalf("codes repeat too often: %d distinct of 200", len(seen))
	}
	now := time.Now()
	c := OneTimeCode{ExpiresAt: now.Add(time.Minute), MaxTries: 3}
	if err := c.Usable(now); err != nil {
		t.Fatal(err)
	}
	if c.Usable(now.Add(time.Minute)) != ErrCodeExpired {
		t.Fatal("want expired at the expiry instant")
	}
	c.Tries = 3
	if c.Usable(now) != ErrCodeTriesExhausted {
		t.Fatal("want tries exhausted")
	}
	c.UsedAt = now
	if c.Usable(now) != ErrCodeUsed {
		t.Fatal("want used")
	}
}

func TestValidateAnswers(t *testing.T) {
	ok := []Answer{{1, "h"}, {2, "h"}, {3, "h"}, {20, "h"}}
	if err := ValidateAnswers(ok, nil); err != nil {
		t.Fatal(err)
	}
	bad := [][]Answer{
		ok[:3],
		{{1, "h"}, {1, "h"}, {3, "h"}, {4, "h"}},
		{{0, "h"}, {2, "h"}, {3, "h"}, {4, "h"}},
		{{21, "h"}, {2, "h"}, {3, "h"}, {4, "h"}},
		{{1, ""}, {2, "h"}, {3, "h"}, {4, "h"}},
	}
	for _, b := range bad {
		if err := ValidateAnswers(b, nil); !errors.Is(err, ErrQuestions) {
			t.Errorf("ValidateAnswers(%v) = %v, want ErrQuestions", b, err)
		}
	}
	sets := func(qs ...QuestionID) []AnswerSet {
		var out []AnswerSet
		for _, s := range DrawableSets(qs) {
			out = append(out, AnswerSet{Questions: s, Hash: "h"})
		}
		return out
	}
	good := sets(20, 3, 1, 2)
	if err := ValidateAnswers(nil, good); err != nil {
		t.Fatal(err)
	}
	if got, want := (Registration{Sets: good}).Questions(), []QuestionID{1, 2, 3, 20}; !slices.Equal(got, want) {
		t.Errorf("Questions() = %v, want %v", got, want)
	}
	noHash := slices.Clone(good)
	noHash[3].Hash = ""
	unsorted := slices.Clone(good)
	unsorted[0] = AnswerSet{Questions: []QuestionID{2, 1}, Hash: "h"}
	for name, b := range map[string][]AnswerSet{
		"a set missing":       good[1:],
		"a set twice":         append(slices.Clone(good[1:]), good[1]),
		"a set with no hash":  noHash,
		"a set not ascending": unsorted,
		"three questions":     sets(1, 2, 3),
		"five questions":      sets(1, 2, 3, 4, 5),
		"a question twice":    sets(1, 1, 2, 3),
		"an unknown question": sets(1, 2, 3, 21),
	} {
		if err := ValidateAnswers(nil, b); !errors.Is(err, ErrQuestions) {
			t.Errorf("%s: ValidateAnswers = %v, want ErrQuestions", name, err)
		}
	}
	if err := ValidateAnswers(ok, good); !errors.Is(err, ErrQuestions) {
		t.Errorf("both forms: ValidateAnswers = %v, want ErrQuestions", err)
	}
}

// TestDrawableSets: every set an unlock may ask, 2 to 4 of the 4, each
// once and ascending, and FindSet finds each whatever the order asked.
func TestDrawableSets(t *testing.T) {
	got := DrawableSets([]QuestionID{9, 2, 14, 5})
	want := [][]QuestionID{{2, 5}, {2, 9}, {2, 14}, {5, 9}, {5, 14}, {9, 14},
		{2, 5, 9}, {2, 5, 14}, {2, 9, 14}, {5, 9, 14}, {2, 5, 9, 14}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("DrawableSets = %v, want %v", got, want)
	}
	var sets []AnswerSet
	for _, s := range got {
		sets = append(sets, AnswerSet{Questions: s})
	}
	for i, s := range got {
		asked := slices.Clone(s)
		slices.Reverse(asked)
		if j := FindSet(sets, asked); j != i {
			t.Errorf("FindSet(%v) = %d, want %d", asked, j, i)
		}
	}
	for _, q := range [][]QuestionID{{2}, {2, 3}, {2, 5, 9, 14, 1}} {
		if j := FindSet(sets, q); j != -1 {
			t.Errorf("FindSet(%v) = %d, want -1", q, j)
		}
	}
}

func TestTwentyQuestions(t *testing.T) {
	if len(SecurityQuestions)-1 != 20 {
		t.Fatalf("want 20 questions, have %d", len(SecurityQuestions)-1)
	}
}
