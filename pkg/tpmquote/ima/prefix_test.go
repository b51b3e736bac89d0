package ima_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// chain replays the PCR 10 entries of entries into bank h with the kernel's
// rule, independently of Log.Replay.
func chain(h crypto.Hash, entries []ima.Entry) []byte {
	pcr := make([]byte, h.Size())
	for _, e := range entries {
		if e.PCR != 10 {
			continue
		}
		ext := sum(h, e.TemplateData)
		if e.Violation() {
			ext = bytes.Repeat([]byte{0xff}, h.Size())
		}
		pcr = sum(h, append(pcr, ext...))
	}
	return pcr
}

// prefixFixture returns the entries of ima-log-sha256.txt, which the quote in
// testdataPCR10 covers, and three entries appended after the quote.
func prefixFixture(t *testing.T) (quoted, late []ima.Entry) {
	t.Helper()
	log, err := ima.Parse(readTestdata(t, "ima-log-sha256.txt"))
	if err != nil {
		t.Fatal(err)
	}
	late = []ima.Entry{
		newEntry(crypto.SHA1, "ima-ng", crypto.SHA256, sum(crypto.SHA256, []byte("late")), "/usr/bin/late", nil, false),
		bufEntries()[0],
		newEntry(crypto.SHA1, "ima-sig", crypto.SHA256, sum(crypto.SHA256, []byte("later")), "/usr/bin/later", nil, false),
	}
	return log.Entries, late
}

func allBanks() []crypto.Hash {
	return []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}
}

func TestVerifyPrefix(t *testing.T) {
	const name = "ima-log-sha256.txt"
	quoted, late := prefixFixture(t)
	all := append(append([]ima.Entry{}, quoted...), late...)
	forms := map[string][]byte{
		"ascii":  append(readTestdata(t, name), marshalASCII(late)...),
		"binary": marshalBinary(all),
	}
	for form, raw := range forms {
		t.Run(form, func(t *testing.T) {
			for _, banks := range [][]crypto.Hash{{crypto.SHA1}, {crypto.SHA256}, allBanks()} {
				log, err := ima.Verify(raw, pcrMap(t, name, banks...), ima.WithPrefixMatch())
				if err != nil {
					t.Fatalf("%v: %v", banks, err)
				}
				if !reflect.DeepEqual(log.Entries, quoted) {
					t.Fatalf("%v: got\n%+v\nwant the quoted entries\n%+v", banks, log.Entries, quoted)
				}
				// The dropped entries cannot be reached by appending.
				if cap(log.Entries) != len(quoted) {
					t.Errorf("%v: cap %d, want %d", banks, cap(log.Entries), len(quoted))
				}
			}

			// Without the option the log must match exactly: the same
			// error as before, with the replay of the whole log.
			log, err := ima.Verify(raw, pcrMap(t, name, allBanks()...))
			want := "ima: log does not match the quote: PCR 10 in the SHA-1 bank: log replays to " +
				hex.EncodeToString(chain(crypto.SHA1, all)) + ", quote has " + testdataPCR10[name][crypto.SHA1]
			if err == nil || err.Error() != want {
				t.Fatalf("exact: got %v\nwant %s", err, want)
			}
			var re *ima.ReplayError
			if !errors.As(err, &re) || re.Bank != crypto.SHA1 {
				t.Errorf("exact: %v is not a SHA-1 *ReplayError", err)
			}
			if log != nil {
				t.Error("log returned with an error")
			}

			// Parse ignores the option.
			parsed, err := ima.Parse(raw, ima.WithPrefixMatch())
			if err != nil || len(parsed.Entries) != len(all) {
				t.Errorf("Parse with WithPrefixMatch: %v", err)
			}
		})
	}
	// A log that ends at the quote verifies whole, with the option or not.
	for _, opts := range [][]ima.Option{nil, {ima.WithPrefixMatch()}, {ima.WithPrefixMatch(), ima.WithPrefixMatch()}} {
		log, err := ima.Verify(readTestdata(t, name), pcrMap(t, name, allBanks()...), opts...)
		if err != nil || !reflect.DeepEqual(log.Entries, quoted) {
			t.Errorf("%d options: %v", len(opts), err)
		}
	}
}

func TestVerifyPrefixOtherPCRs(t *testing.T) {
	const name = "ima-log-sha256.txt"
	quoted, late := prefixFixture(t)
	other := late[0]
	other.PCR = 11
	pcr10 := pcrMap(t, name, crypto.SHA1, crypto.SHA256)

	// An entry of another PCR right after the quoted point does not change
	// PCR 10; the shortest prefix leaves it out.
	entries := append(append(append([]ima.Entry{}, quoted...), other), late...)
	log, err := ima.Verify(marshalBinary(entries), pcr10, ima.WithPrefixMatch())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log.Entries, quoted) {
		t.Errorf("got %+v", log.Entries)
	}

	// One before the quoted point is in the prefix.
	entries = append([]ima.Entry{quoted[0], other, quoted[1]}, late...)
	log, err = ima.Verify(marshalBinary(entries), pcr10, ima.WithPrefixMatch())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log.Entries, entries[:3]) {
		t.Errorf("got %+v", log.Entries)
	}
}

func TestVerifyPrefixNoMatch(t *testing.T) {
	const name = "ima-log-sha256.txt"
	quoted, late := prefixFixture(t)
	all := append(append([]ima.Entry{}, quoted...), late...)
	raw := marshalBinary(all)
	changed := func(h crypto.Hash) []byte {
		v := mustHex(testdataPCR10[name][h])
		v[0] ^= 1
		return v
	}
	tests := []struct {
		name    string
		changed []crypto.Hash
		banks   string
	}{
		{"one bank", []crypto.Hash{crypto.SHA256}, "SHA-256 bank"},
		{"two banks", []crypto.Hash{crypto.SHA256, crypto.SHA512}, "SHA-256 and SHA-512 banks"},
		{"three banks", []crypto.Hash{crypto.SHA1, crypto.SHA384, crypto.SHA512}, "SHA-1, SHA-384 and SHA-512 banks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcr10 := pcrMap(t, name, allBanks()...)
			for _, h := range tt.changed {
				pcr10[h] = changed(h)
			}
			first := tt.changed[0]
			log, err := ima.Verify(raw, pcr10, ima.WithPrefixMatch())
			want := "ima: log does not match the quote: no prefix of the log replays to the quoted PCR 10 in the " + tt.banks +
				": PCR 10 in the " + first.String() + " bank: log replays to " + hex.EncodeToString(chain(first, all)) +
				", quote has " + hex.EncodeToString(changed(first))
			if err == nil || err.Error() != want {
				t.Fatalf("got  %v\nwant %s", err, want)
			}
			var re *ima.ReplayError
			if !errors.As(err, &re) {
				t.Fatalf("%v is not a *ReplayError", err)
			}
			if re.Bank != first || !bytes.Equal(re.Got, chain(first, all)) || !bytes.Equal(re.Want, changed(first)) {
				t.Errorf("ReplayError %+v", re)
			}
			if log != nil {
				t.Error("log returned with an error")
			}
		})
	}
}

func TestVerifyPrefixDifferentPrefixes(t *testing.T) {
	quoted, late := prefixFixture(t)
	all := append(append([]ima.Entry{}, quoted...), late...)
	raw := marshalBinary(all)
	// SHA-1 quoted after 2 entries, SHA-256 after 4, and the other way round.
	for _, tt := range []struct {
		sha1, sha256 int
		failing      crypto.Hash
	}{
		{2, 4, crypto.SHA256},
		{4, 2, crypto.SHA1},
		{5, 1, crypto.SHA1},
	} {
		pcr10 := map[crypto.Hash][]byte{
			crypto.SHA1:   chain(crypto.SHA1, all[:tt.sha1]),
			crypto.SHA256: chain(crypto.SHA256, all[:tt.sha256]),
		}
		short := min(tt.sha1, tt.sha256)
		got := chain(tt.failing, all[:short])
		log, err := ima.Verify(raw, pcr10, ima.WithPrefixMatch())
		want := "ima: log does not match the quote: the banks match different prefixes of the log (SHA-1 the first " +
			strconv.Itoa(tt.sha1) + ", SHA-256 the first " + strconv.Itoa(tt.sha256) + " entries); of the first " + strconv.Itoa(short) +
			" entries: PCR 10 in the " + tt.failing.String() + " bank: log replays to " + hex.EncodeToString(got) +
			", quote has " + hex.EncodeToString(pcr10[tt.failing])
		if err == nil || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
			continue
		}
		var re *ima.ReplayError
		if !errors.As(err, &re) || re.Bank != tt.failing || !bytes.Equal(re.Got, got) || !bytes.Equal(re.Want, pcr10[tt.failing]) {
			t.Errorf("ReplayError %+v", re)
		}
		if log != nil {
			t.Error("log returned with an error")
		}
	}
}

func TestVerifyPrefixZero(t *testing.T) {
	const name = "ima-log-sha256.txt"
	raw := readTestdata(t, name)
	zeros := map[crypto.Hash][]byte{crypto.SHA1: make([]byte, 20), crypto.SHA256: make([]byte, 32)}

	// All zeros is the replay of no entry at all: the empty prefix.
	log, err := ima.Verify(raw, zeros, ima.WithPrefixMatch())
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Entries) != 0 || cap(log.Entries) != 0 {
		t.Errorf("got %d entries (cap %d), want none", len(log.Entries), cap(log.Entries))
	}
	// Without the option, zeros do not match a log with entries.
	if _, err := ima.Verify(raw, zeros); err == nil {
		t.Error("zeros matched the whole log")
	}
	// Zeros in one bank only: the banks match different prefixes.
	pcr10 := pcrMap(t, name, crypto.SHA256)
	pcr10[crypto.SHA1] = make([]byte, 20)
	_, err = ima.Verify(raw, pcr10, ima.WithPrefixMatch())
	want := "ima: log does not match the quote: the banks match different prefixes of the log (SHA-1 the first 0, SHA-256 the first 2 entries); " +
		"of the first 0 entries: PCR 10 in the SHA-256 bank: log replays to " + hex.EncodeToString(make([]byte, 32)) +
		", quote has " + testdataPCR10[name][crypto.SHA256]
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestVerifyPrefixTailMustParse(t *testing.T) {
	const name = "ima-log-sha256.txt"
	raw := append(readTestdata(t, name), "10 zz\n"...)
	_, err := ima.Verify(raw, pcrMap(t, name, crypto.SHA256), ima.WithPrefixMatch())
	if want := "ima: line 3: has 2 fields, want at least 5"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
