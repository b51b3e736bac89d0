package tpmquote_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

var imaNG = tpmtest.IMANG

// extendIMA extends the simulator's PCR 10 for each entry, as the kernel does.
func extendIMA(t *testing.T, sim *simTPM, entries []ima.Entry) {
	t.Helper()
	for _, e := range entries {
		tpmtest.ExtendIMA(t, sim.tpm, e.TemplateData, e.Violation())
	}
}

// TestIMALogs replays the real IMA logs into a simulator's PCR 10, quotes
// it, and verifies the log, with more entries appended after the quote as a
// live kernel would.
func TestIMALogs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("ima", "testdata", "ima-log-*.txt"))
	if len(files) == 0 {
		t.Fatal("no IMA test logs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			log, err := ima.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			sim := newSimTPM(t)
			extendIMA(t, sim, log.Entries)
			late, _ := imaNG("/usr/bin/late", []byte("after the quote"))
			path := filepath.Join(t.TempDir(), "ascii_runtime_measurements")
			sel := tpmquote.PCRSelection{tpmquote.SHA256: {0, 10}, tpmquote.SHA1: {10}}

			res, err := attestIMA(t, sim, sel, path, append(bytes.Clone(raw), late...))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// The boot_aggregate is apart (in ima-log-sha256.txt; the
			// other logs have a violation in its place), its PCRs are
			// not quoted.
			agg := 0
			if log.BootAggregateEntry() != nil {
				agg = 1
				if ba := res.IMA.BootAggregate; ba == nil || ba.PCRsVerified {
					t.Errorf("boot aggregate %+v, want one not checked", ba)
				}
			} else if res.IMA.BootAggregate != nil {
				t.Errorf("boot aggregate %+v, want none", res.IMA.BootAggregate)
			}
			if got, want := len(res.IMA.Entries), len(log.Entries)-violations(log)-agg; got != want {
				t.Errorf("%d IMA entries, want %d (the late entry is not covered)", got, want)
			}
			if last := res.IMA.Entries[len(res.IMA.Entries)-1]; last.Path != "/data" {
				t.Errorf("last entry %q", last.Path)
			}
			// Violations are reported apart, and said in the check.
			if got, want := len(res.IMA.Violations), violations(log); got != want {
				t.Errorf("%d violations reported, want %d", got, want)
			}
			for _, c := range res.Checks {
				if c.Name == "ima.replay" && strings.Contains(c.Detail, "violations") != (violations(log) > 0) {
					t.Errorf("ima.replay detail %q with %d violations", c.Detail, violations(log))
				}
			}

			edited := bytes.Replace(raw, []byte("/data"), []byte("/dada"), 1)
			_, err = attestIMA(t, sim, sel, path, edited)
			if err == nil || tpmquote.ReasonOf(err) != tpmquote.ReasonMalformed && tpmquote.ReasonOf(err) != tpmquote.ReasonIMALog {
				t.Fatalf("edited log: err = %v", err)
			}
		})
	}
}

func violations(l *ima.Log) int {
	n := 0
	for _, e := range l.Entries {
		if e.Violation() {
			n++
		}
	}
	return n
}

func TestIMALogNotQuoted(t *testing.T) {
	sim := newSimTPM(t)
	line, _ := imaNG("/bin/true", []byte("x"))
	_, err := attestIMA(t, sim, tpmquote.PCRSelection{tpmquote.SHA256: {0}}, filepath.Join(t.TempDir(), "log"), []byte(line))
	wantRefusal(t, err, tpmquote.ReasonIMALog, "tpmquote: IMA log sent but PCR 10 is not quoted")
}

func TestIMALogDoesNotReplay(t *testing.T) {
	sim := newSimTPM(t)
	line, td := imaNG("/bin/true", []byte("x"))
	extendIMA(t, sim, []ima.Entry{{TemplateData: td, TemplateHash: []byte{1}}})
	other, _ := imaNG("/bin/false", []byte("x"))
	_, err := attestIMA(t, sim, tpmquote.PCRSelection{tpmquote.SHA256: {10}}, filepath.Join(t.TempDir(), "log"), []byte(other))
	if tpmquote.ReasonOf(err) != tpmquote.ReasonIMALog || !strings.HasPrefix(err.Error(), "tpmquote: ima: ") {
		t.Fatalf("err = %v", err)
	}
	_ = line
}

func attestIMA(t *testing.T, sim *simTPM, sel tpmquote.PCRSelection, path string, log []byte) (*tpmquote.Result, error) {
	t.Helper()
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	v := sim.verifier(t, tpmquote.Options{PCRs: sel})
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-", IMALogPath: path})
	defer s.Close()
	ch, session, err := v.Challenge(att)
	if err != nil {
		t.Fatal(err)
	}
	return session.Verify(respond(t, s, ch))
}
