package ima_test

import (
	"bytes"
	"crypto"
	"reflect"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// FuzzParse feeds arbitrary bytes to Parse in every format and template hash
// mode. Parse must never panic, must fail with one "ima: " prefix, and what
// it accepts must be self-consistent: template hashes match, every bank
// replays, the entries survive a round trip through the binary (and, where
// the paths allow, the ASCII) form, and Verify with WithPrefixMatch against
// the log's own replay returns a prefix of it that replays to that value.
//
// The seed corpus is testdata/fuzz/FuzzParse (the testdata logs in ASCII and
// binary form; ima-sig, ima and violation entries; ima-buf entries).
func FuzzParse(f *testing.F) {
	for _, name := range testdataLogs {
		raw := readTestdata(f, name)
		f.Add(raw)
		if log, err := ima.Parse(raw); err == nil {
			f.Add(marshalBinary(log.Entries))
		}
	}
	f.Add(marshalBinary(sigEntries()))
	f.Add(marshalASCII(sigEntries()))

	modes := []struct {
		opts []ima.Option
		th   crypto.Hash
	}{
		{nil, crypto.SHA1},
		{[]ima.Option{ima.WithFormat(ima.FormatBinary)}, crypto.SHA1},
		{[]ima.Option{ima.WithFormat(ima.FormatASCII)}, crypto.SHA1},
		{[]ima.Option{ima.WithTemplateHash(crypto.SHA256)}, crypto.SHA256},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, m := range modes {
			log, err := ima.Parse(raw, m.opts...)
			if err != nil {
				if msg := err.Error(); !strings.HasPrefix(msg, "ima: ") || strings.Contains(msg, "ima: ima: ") {
					t.Fatalf("error %q", msg)
				}
				if log != nil {
					t.Fatal("log returned with an error")
				}
				continue
			}
			checkLog(t, log, m.th, m.opts)
			checkPrefix(t, raw, log, m.opts)
		}
	})
}

func checkLog(t *testing.T, log *ima.Log, th crypto.Hash, opts []ima.Option) {
	t.Helper()
	if len(log.Entries) == 0 {
		t.Fatal("no entries and no error")
	}
	asciiSafe := true
	for i, e := range log.Entries {
		if len(e.TemplateHash) != th.Size() {
			t.Fatalf("entry %d: template hash has %d bytes", i, len(e.TemplateHash))
		}
		if !e.Violation() && !bytes.Equal(sum(th, e.TemplateData), e.TemplateHash) {
			t.Fatalf("entry %d: template hash does not match", i)
		}
		if e.Violation() && !bytes.Equal(e.FileHash, make([]byte, len(e.FileHash))) {
			t.Fatalf("entry %d: violation with a digest", i)
		}
		if e.PCR > ima.MaxPCR || len(e.Path) > ima.MaxPathLen || len(e.Signature) > ima.MaxSignatureLen || len(e.Buffer) > ima.MaxBufferLen {
			t.Fatalf("entry %d: over a limit", i)
		}
		if strings.ContainsAny(e.Path, " \n") {
			asciiSafe = false
		}
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if _, err := log.Replay(h); err != nil {
			t.Fatal(err)
		}
	}
	checkRelabel(t, log, th)
	rt := []ima.Option{ima.WithTemplateHash(th)}
	bin, err := ima.Parse(marshalBinary(log.Entries), append(rt, ima.WithFormat(ima.FormatBinary))...)
	if err != nil {
		t.Fatalf("binary round trip: %v", err)
	}
	if !reflect.DeepEqual(bin.Entries, log.Entries) {
		t.Fatalf("binary round trip:\n%+v\n%+v", bin.Entries, log.Entries)
	}
	if !asciiSafe {
		return
	}
	ascii, err := ima.Parse(marshalASCII(log.Entries), append(rt, ima.WithFormat(ima.FormatASCII))...)
	if err != nil {
		t.Fatalf("ASCII round trip: %v", err)
	}
	if !reflect.DeepEqual(ascii.Entries, log.Entries) {
		t.Fatalf("ASCII round trip:\n%+v\n%+v", ascii.Entries, log.Entries)
	}
}

// checkRelabel relabels every ima-sig entry as ima-buf and back (the
// template hash does not cover the name, and the layouts are the same): the
// relabelled log must replay alike, and FindFileHash and BootAggregateEntry
// must not see the difference. It may fail to parse only on the limit that
// differs (MaxSignatureLen, MaxBufferLen).
func checkRelabel(t *testing.T, log *ima.Log, th crypto.Hash) {
	t.Helper()
	swapped := make([]ima.Entry, len(log.Entries))
	for i, e := range log.Entries {
		switch e.TemplateName {
		case ima.TemplateIMASig:
			e = relabelled(e, ima.TemplateIMABuf)
		case ima.TemplateIMABuf:
			e = relabelled(e, ima.TemplateIMASig)
		}
		swapped[i] = e
	}
	other, err := ima.Parse(marshalBinary(swapped), ima.WithTemplateHash(th), ima.WithFormat(ima.FormatBinary))
	if err != nil {
		if !strings.Contains(err.Error(), "more than Max") {
			t.Fatalf("relabelled log: %v", err)
		}
		return
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		a, _ := log.Replay(h)
		b, _ := other.Replay(h)
		if !bytes.Equal(a, b) {
			t.Fatalf("relabelled log replays to %x, not %x", b, a)
		}
	}
	if (log.BootAggregateEntry() == nil) != (other.BootAggregateEntry() == nil) {
		t.Fatal("relabelling changes the boot aggregate")
	}
	for _, e := range log.Entries {
		if len(log.FindFileHash(e.FileHashAlg, e.FileHash)) != len(other.FindFileHash(e.FileHashAlg, e.FileHash)) {
			t.Fatalf("relabelling changes what FindFileHash finds for %q", e.Path)
		}
	}
}

// checkPrefix verifies raw with WithPrefixMatch against the SHA-256 replay of
// log, the whole log it parsed to.
func checkPrefix(t *testing.T, raw []byte, log *ima.Log, opts []ima.Option) {
	t.Helper()
	want, err := log.Replay(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ima.Verify(raw, map[crypto.Hash][]byte{crypto.SHA256: want}, append(opts, ima.WithPrefixMatch())...)
	if err != nil {
		t.Fatalf("prefix match against the log's own replay: %v", err)
	}
	if len(v.Entries) > len(log.Entries) || !reflect.DeepEqual(v.Entries, log.Entries[:len(v.Entries)]) {
		t.Fatalf("prefix match returned %d entries that are not a prefix of the %d parsed", len(v.Entries), len(log.Entries))
	}
	if got, _ := v.Replay(crypto.SHA256); !bytes.Equal(got, want) {
		t.Fatalf("prefix replays to %x, want %x", got, want)
	}
}
