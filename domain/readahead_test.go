package domain

import (
	"errors"
	"testing"
)

// TestReadAhead: the rows arrive in order with the source's error after
// them, and the reading goroutine has stopped when the sequence returns,
// however the consumer left it.
func TestReadAhead(t *testing.T) {
	errRead := errors.New("read failed")
	cases := []struct {
		name      string
		rows      int   // rows the source yields
		err       error // then this, if set
		stopAfter int   // the consumer stops after this many (0: never)
		wantRows  int
	}{
		{"all", 3*readAheadBatch + 7, nil, 0, 3*readAheadBatch + 7},
		{"none", 0, nil, 0, 0},
		{"error after a batch and a half", readAheadBatch + readAheadBatch/2, errRead, 0, readAheadBatch + readAheadBatch/2},
		{"error at once", 0, errRead, 0, 0},
		{"consumer stops early", 10 * readAheadBatch, nil, 5, 5},
		{"consumer stops with rows still queued", 10 * readAheadBatch, nil, 2*readAheadBatch + 1, 2*readAheadBatch + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var returned bool
			src := func(yield func(DirectoryRow, error) bool) {
				defer func() { returned = true }()
				for i := range tc.rows {
					if !yield(DirectoryRow{Line: i + 2}, nil) {
						return
					}
				}
				if tc.err != nil {
					yield(DirectoryRow{}, tc.err)
				}
			}
			var got int
			var gotErr error
			for r, err := range readAhead(src) {
				if err != nil {
					gotErr = err
					break
				}
				if r.Line != got+2 {
					t.Fatalf("row %d has line %d, want %d", got, r.Line, got+2)
				}
				if got++; got == tc.stopAfter {
					break
				}
			}
			if !returned {
				t.Error("the source was still running when the sequence returned")
			}
			if got != tc.wantRows {
				t.Errorf("%d rows, want %d", got, tc.wantRows)
			}
			wantErr := tc.err
			if tc.stopAfter > 0 {
				wantErr = nil
			}
			if !errors.Is(gotErr, wantErr) || (wantErr == nil) != (gotErr == nil) {
				t.Errorf("error %v, want %v", gotErr, wantErr)
			}
		})
	}
}
