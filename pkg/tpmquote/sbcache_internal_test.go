package tpmquote

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-attestation/attest"
)

// recordedEvents returns the SHA-256 (else SHA-1) events of every recorded
// boot log, unverified: the memo must agree with a full parse on any input.
func recordedEvents(t *testing.T) map[string][]attest.Event {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "eventlogs", "*.bin"))
	if err != nil || len(names) < 5 {
		t.Fatalf("event logs: %v %v", names, err)
	}
	out := map[string][]attest.Event{}
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		el, err := attest.ParseEventLog(raw)
		if err != nil {
			continue
		}
		alg := el.Algs[0]
		if slices.Contains(el.Algs, attest.HashSHA256) {
			alg = attest.HashSHA256
		}
		out[filepath.Base(n)] = el.Events(alg)
	}
	return out
}

// TestSecureBootMemoMatchesParse: a cached decision is the decision a full
// parse makes, for every recorded log and for every one-field change to any
// PCR 2 or 7 event of it (type, a byte of data, a byte of digest) made after
// the original is cached: each field the parser reads is in the key.
func TestSecureBootMemoMatchesParse(t *testing.T) {
	memo := newSecureBootMemo(secureBootCacheSize)
	known, mutations := 0, 0
	for name, events := range recordedEvents(t) {
		want := secureBootState(events)
		if got := memo.state(events); got != want {
			t.Fatalf("%s: first %+v, want %+v", name, got, want)
		}
		if got := memo.state(events); got != want {
			t.Fatalf("%s: cached %+v, want %+v", name, got, want)
		}
		if want.Known {
			known++
		}
		for i, e := range events {
			if e.Index != 7 && e.Index != 2 {
				continue
			}
			for _, mutate := range []func(*attest.Event){
				func(e *attest.Event) { e.Type ^= 0x80000000 },
				func(e *attest.Event) {
					if len(e.Data) > 0 {
						e.Data = slices.Clone(e.Data)
						e.Data[len(e.Data)/2] ^= 1
					}
				},
				func(e *attest.Event) { e.Digest = slices.Clone(e.Digest); e.Digest[0] ^= 1 },
				func(e *attest.Event) { e.Index = 9 - e.Index }, // 7 <-> 2
			} {
				changed := slices.Clone(events)
				mutate(&changed[i])
				mutations++
				if got, want := memo.state(changed), secureBootState(changed); got != want {
					t.Fatalf("%s: event %d changed: memo %+v, parse %+v", name, i, got, want)
				}
			}
		}
	}
	if known == 0 || mutations < 20 {
		t.Fatalf("only %d logs with a known state, %d mutations: the test checks little", known, mutations)
	}
}

// TestSecureBootMemoBounded: the cache never holds more than its bound, and
// keeps no refusal of go-attestation's parser (whose text names the event's
// position in the log, which the key does not cover).
func TestSecureBootMemoBounded(t *testing.T) {
	memo := newSecureBootMemo(2)
	sep := func(pcr int) attest.Event {
		return attest.Event{Index: pcr, Type: evSeparator, Data: []byte{0, 0, 0, 0},
			Digest: []byte{0xdf, 0x3f, 0x61, 0x98, 0x04, 0xa9, 0x2f, 0xdb, 0x40, 0x57, 0x19, 0x2d, 0xc4, 0x3d, 0xd7, 0x48,
				0xea, 0x77, 0x8a, 0xdc, 0x52, 0xbc, 0x49, 0x8c, 0xe8, 0x05, 0x24, 0xc0, 0x14, 0xb8, 0x11, 0x19}}
	}
	for _, events := range [][]attest.Event{{sep(7)}, {sep(2), sep(7)}, {sep(7), sep(2)}} {
		if got := memo.state(events); got.Known {
			t.Fatalf("state %+v", got)
		}
	}
	if n := memo.order.Len(); n != 2 || len(memo.entries) != 2 {
		t.Fatalf("cache holds %d/%d, want 2", n, len(memo.entries))
	}
	dup := []attest.Event{sep(7), sep(7)}
	if got := memo.state(dup); got.Detail != "PCR 7: duplicate separator at event 0" {
		t.Fatalf("state %+v", got)
	}
	if _, ok := memo.entries[secureBootKey(dup)]; ok {
		t.Fatal("a parser refusal was cached")
	}
}
