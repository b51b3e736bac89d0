package ima_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// wantEntry describes an entry of a testdata log. templateDataSHA1 is the
// SHA-1 of the rebuilt template data, computed independently (Python); for
// the violation entries it differs from the logged all-zero template hash.
type wantEntry struct {
	templateHash     string
	alg              crypto.Hash
	fileHash         string
	path             string
	violation        bool
	templateDataSHA1 string
}

var zero20 = strings.Repeat("00", 20)

var testdataEntries = map[string][]wantEntry{
	"ima-log-sha1.txt": {
		{zero20, crypto.SHA1, zero20, "boot_aggregate", true, "1d8d532d463c9f8c205d0df7787669a85f93e260"},
		{"edcfbc3299860219161af60b266f8e2fa1fbd0c0", crypto.SHA1, "009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509", "/data", false, "edcfbc3299860219161af60b266f8e2fa1fbd0c0"},
	},
	"ima-log-sha256.txt": {
		{"6309e2c83b7814367bb3912a55e5473454623535", crypto.SHA256, "f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3", "boot_aggregate", false, "6309e2c83b7814367bb3912a55e5473454623535"},
		{"80255d9c7dad91ef5f21b18560a47642d6f4d653", crypto.SHA256, "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754", "/data", false, "80255d9c7dad91ef5f21b18560a47642d6f4d653"},
	},
	"ima-log-sha384.txt": {
		{zero20, crypto.SHA384, strings.Repeat("00", 48), "boot_aggregate", true, "7af9664bc55da15391ef4840138878d73a53fe60"},
		{"75c0136ea25f6ef9ad3e029fc5ffde6a4d293a07", crypto.SHA384, "20393b3e109c55b3128ba761bab1c555d8f39afe118eb1a29929ba8e017e8b2cdfc805c304e10d280604a829145ba6f0", "/data", false, "75c0136ea25f6ef9ad3e029fc5ffde6a4d293a07"},
	},
	"ima-log-sha512.txt": {
		{zero20, crypto.SHA512, strings.Repeat("00", 64), "boot_aggregate", true, "45e7e585a82d311e1ee226b4256604c341dbc6b9"},
		{"edc4bec94ffdeb86c4062d9841b41da5c94c7a5d", crypto.SHA512, "4fb914b8ed30ff69c65551573ce096aaf0c3507896cce44868d7a7e553891043c68a3889f3fc8056ef8c6bc3a54a9db83cd8112928ad51c5cd9e1a4ef332de53", "/data", false, "edc4bec94ffdeb86c4062d9841b41da5c94c7a5d"},
	},
}

// testdataPCR10 are the PCR 10 values of the testdata logs, replayed
// independently (Python hashlib) with the kernel's rule.
var testdataPCR10 = map[string]map[crypto.Hash]string{
	"ima-log-sha1.txt": {
		crypto.SHA1:   "62e5bdf4783228f7deec959f0a89a4739af79ac5",
		crypto.SHA256: "37c153b0a390c91993992d79eb0b9b05b5cb9085c6179528e1b71694ed19896c",
		crypto.SHA384: "45179c52a7b8b7d511a1ef1bc25b31f1f647de5f9324b32ea04a83fb63de0bd1096c904d70037d721177ff19ceac0d13",
		crypto.SHA512: "30698f6f9782c23fdce39a31039bd34e6ac9b7a4b0e99163727f32d31ec16b1f0276f4297b7a7b74ec2dfa55b7c39d257b68a783e7b3db2efce8357468c91bcc",
	},
	"ima-log-sha256.txt": {
		crypto.SHA1:   "8adcb4304b78ee782bbba3733b191591e75dc83d",
		crypto.SHA256: "8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d",
		crypto.SHA384: "268b34ccd4d8e2b8f388f780c363f1c8048d22353a9c411f886cf76b8a32c9dd40fbe42679fb530dd2a349503b2666f5",
		crypto.SHA512: "163e39f3abf1f06ca678841e53b775bd88379e399ed6c4bfb53ea1e7872f556783903b8139b2564f6e5a45681479ed80e2a4a1dacffef614e3f28a1df9e7afec",
	},
	"ima-log-sha384.txt": {
		crypto.SHA1:   "3dfd156753bbf66afbb3c10b98bac02ed13b481c",
		crypto.SHA256: "35771508049511f8d3aef6691b528a1ea2fdcf13839dc0edceec1fa2ffb0737e",
		crypto.SHA384: "e17e1e6a08abfe8c89118a082a56778f16c96082288c57bb386ad9d329ac8980999eeacb7e7aff6a1289f3d2321fbe8e",
		crypto.SHA512: "63f69a11947fa8c42c5599aee13e97b23fe64968dce9270ffcbcc633f38240aa9e72a4785fbe4096e133b18ef4bbf38edbbfb9362ec74e757226c9bad345b230",
	},
	"ima-log-sha512.txt": {
		crypto.SHA1:   "a37fb4ca32af8c94fefe8a4ce10d4b6dac5a7322",
		crypto.SHA256: "ac16f32385ac34b7ca6b15b2afc7a319249206634d8143b5b245ddac4f11a2eb",
		crypto.SHA384: "6e05c704210259ada72991edcccf3e56115523c9bf3f13c734e92c32727df40fab551fc600c2c1b47eda1f2f31a5d1b6",
		crypto.SHA512: "4c74e36f3503073d55d2e8c7025e6c84e1a1a543fb911c69d6ef70381248bf89952e40f97ad851b507c53634583987f56968ea8f03b213424c23c1ae06507b71",
	},
}

func TestParseTestdata(t *testing.T) {
	for _, name := range testdataLogs {
		t.Run(name, func(t *testing.T) {
			raw := readTestdata(t, name)
			log, err := ima.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			want := testdataEntries[name]
			if len(log.Entries) != len(want) {
				t.Fatalf("got %d entries, want %d", len(log.Entries), len(want))
			}
			for i, w := range want {
				e := log.Entries[i]
				if e.PCR != 10 || e.TemplateName != "ima-ng" {
					t.Errorf("entry %d: PCR %d template %q, want 10 ima-ng", i, e.PCR, e.TemplateName)
				}
				if got := hex.EncodeToString(e.TemplateHash); got != w.templateHash {
					t.Errorf("entry %d: template hash %s, want %s", i, got, w.templateHash)
				}
				if e.FileHashAlg != w.alg {
					t.Errorf("entry %d: file hash alg %v, want %v", i, e.FileHashAlg, w.alg)
				}
				if got := hex.EncodeToString(e.FileHash); got != w.fileHash {
					t.Errorf("entry %d: file hash %s, want %s", i, got, w.fileHash)
				}
				if e.Path != w.path {
					t.Errorf("entry %d: path %q, want %q", i, e.Path, w.path)
				}
				if e.Signature != nil {
					t.Errorf("entry %d: signature %x, want none", i, e.Signature)
				}
				if e.Violation() != w.violation {
					t.Errorf("entry %d: violation %v, want %v", i, e.Violation(), w.violation)
				}
				if got := hex.EncodeToString(sum(crypto.SHA1, e.TemplateData)); got != w.templateDataSHA1 {
					t.Errorf("entry %d: SHA-1 of template data %s, want %s", i, got, w.templateDataSHA1)
				}
				// The rebuilt template data is what the kernel writes.
				if wantTD := ngData(algNames[w.alg], mustHex(w.fileHash), w.path, nil); !bytes.Equal(e.TemplateData, wantTD) {
					t.Errorf("entry %d: template data %x, want %x", i, e.TemplateData, wantTD)
				}
			}
		})
	}
}

func TestReplayTestdata(t *testing.T) {
	for _, name := range testdataLogs {
		log, err := ima.Parse(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			got, err := log.Replay(h)
			if err != nil {
				t.Fatal(err)
			}
			if want := testdataPCR10[name][h]; hex.EncodeToString(got) != want {
				t.Errorf("%s %v: replay %x, want %s", name, h, got, want)
			}
		}
	}
}

func TestReplaySHA1BankIsTemplateHashChain(t *testing.T) {
	// For the SHA-1 bank, extending with SHA-1(template data) is extending
	// with the logged template hash (0xFF..FF for violations).
	for _, name := range testdataLogs {
		log, err := ima.Parse(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		pcr := make([]byte, 20)
		for _, e := range log.Entries {
			ext := e.TemplateHash
			if e.Violation() {
				ext = bytes.Repeat([]byte{0xff}, 20)
			}
			pcr = sum(crypto.SHA1, append(pcr, ext...))
		}
		got, err := log.Replay(crypto.SHA1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pcr) {
			t.Errorf("%s: replay %x, template hash chain %x", name, got, pcr)
		}
	}
}

func TestReplayErrors(t *testing.T) {
	var nilLog *ima.Log
	if _, err := nilLog.Replay(crypto.SHA256); err == nil || err.Error() != "ima: replay of a nil log" {
		t.Errorf("nil log: %v", err)
	}
	log := &ima.Log{}
	if _, err := log.Replay(crypto.SHA224); err == nil || err.Error() != "ima: unsupported PCR bank SHA-224" {
		t.Errorf("SHA-224: %v", err)
	}
	got, err := log.Replay(crypto.SHA256)
	if err != nil || !bytes.Equal(got, make([]byte, 32)) {
		t.Errorf("empty log replays to %x, %v; want zeros", got, err)
	}
}

func TestReplaySkipsOtherPCRs(t *testing.T) {
	e := newEntry(crypto.SHA1, "ima-ng", crypto.SHA256, bytes.Repeat([]byte{1}, 32), "/bin/sh", nil, false)
	other := e
	other.PCR = 11
	a, err := ima.Parse(marshalBinary([]ima.Entry{e}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ima.Parse(marshalBinary([]ima.Entry{e, other}))
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := a.Replay(crypto.SHA256)
	rb, _ := b.Replay(crypto.SHA256)
	if !bytes.Equal(ra, rb) {
		t.Errorf("PCR 11 entry changed the PCR 10 replay: %x != %x", ra, rb)
	}
}

func pcrMap(t *testing.T, name string, banks ...crypto.Hash) map[crypto.Hash][]byte {
	m := map[crypto.Hash][]byte{}
	for _, h := range banks {
		m[h] = mustHex(testdataPCR10[name][h])
	}
	return m
}

func TestVerifyTestdata(t *testing.T) {
	for _, name := range testdataLogs {
		t.Run(name, func(t *testing.T) {
			raw := readTestdata(t, name)
			for _, banks := range [][]crypto.Hash{
				{crypto.SHA1},
				{crypto.SHA256},
				{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512},
			} {
				log, err := ima.Verify(raw, pcrMap(t, name, banks...))
				if err != nil {
					t.Fatalf("%v: %v", banks, err)
				}
				if len(log.Entries) != 2 {
					t.Fatalf("%v: %d entries", banks, len(log.Entries))
				}
			}
			// The same log in binary form verifies against the same values.
			ascii, err := ima.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			bin := marshalBinary(ascii.Entries)
			if _, err := ima.Verify(bin, pcrMap(t, name, crypto.SHA1, crypto.SHA256)); err != nil {
				t.Fatalf("binary: %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	const name = "ima-log-sha256.txt"
	raw := readTestdata(t, name)
	good := testdataPCR10[name][crypto.SHA256]
	changed := mustHex(good)
	changed[31] ^= 1

	// A changed PCR value is refused with the typed error.
	_, err := ima.Verify(raw, map[crypto.Hash][]byte{
		crypto.SHA1:   mustHex(testdataPCR10[name][crypto.SHA1]),
		crypto.SHA256: changed,
	})
	want := "ima: log does not match the quote: PCR 10 in the SHA-256 bank: log replays to " +
		good + ", quote has " + hex.EncodeToString(changed)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var re *ima.ReplayError
	if !errors.As(err, &re) {
		t.Fatalf("%v is not a *ReplayError", err)
	}
	if re.Bank != crypto.SHA256 || hex.EncodeToString(re.Got) != good || !bytes.Equal(re.Want, changed) {
		t.Errorf("ReplayError %+v", re)
	}

	// A changed log is refused too: drop the second entry.
	firstLine := raw[:bytes.IndexByte(raw, '\n')+1]
	_, err = ima.Verify(firstLine, map[crypto.Hash][]byte{crypto.SHA256: mustHex(good)})
	if !errors.As(err, &re) {
		t.Fatalf("truncated log: %v", err)
	}
	// A changed path breaks the template hash before any replay.
	_, err = ima.Verify(bytes.Replace(raw, []byte("/data"), []byte("/date"), 1), map[crypto.Hash][]byte{crypto.SHA256: mustHex(good)})
	wantPath := "ima: line 2: template hash 80255d9c7dad91ef5f21b18560a47642d6f4d653 is not the SHA-1 of the template data (" +
		hex.EncodeToString(sum(crypto.SHA1, ngData("sha256", mustHex(testdataEntries[name][1].fileHash), "/date", nil))) + ")"
	if err == nil || err.Error() != wantPath {
		t.Errorf("changed path: got %v\nwant %s", err, wantPath)
	}

	tests := []struct {
		name  string
		pcr10 map[crypto.Hash][]byte
		want  string
	}{
		{"nil map", nil, "ima: no PCR 10 value to verify the log against"},
		{"empty map", map[crypto.Hash][]byte{}, "ima: no PCR 10 value to verify the log against"},
		{"short value", map[crypto.Hash][]byte{crypto.SHA256: make([]byte, 31)}, "ima: PCR 10 value for the SHA-256 bank has 31 bytes, want 32"},
		{"unsupported bank", map[crypto.Hash][]byte{crypto.SHA224: make([]byte, 28)}, "ima: unsupported PCR bank SHA-224"},
		{"first bank checked first", map[crypto.Hash][]byte{crypto.SHA1: make([]byte, 20), crypto.SHA512: make([]byte, 64)},
			"ima: log does not match the quote: PCR 10 in the SHA-1 bank: log replays to " + testdataPCR10[name][crypto.SHA1] + ", quote has " + zero20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := ima.Verify(raw, tt.pcr10)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
			if log != nil {
				t.Error("log returned with an error")
			}
		})
	}
}

func TestBinaryMatchesASCII(t *testing.T) {
	for _, name := range testdataLogs {
		ascii, err := ima.Parse(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		bin := marshalBinary(ascii.Entries)
		for _, opts := range [][]ima.Option{nil, {ima.WithFormat(ima.FormatBinary)}} {
			got, err := ima.Parse(bin, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Entries, ascii.Entries) {
				t.Errorf("%s: binary parses to\n%+v\nASCII to\n%+v", name, got.Entries, ascii.Entries)
			}
		}
		// And the ASCII this package's test writer produces is the file.
		if got := marshalASCII(ascii.Entries); !bytes.Equal(got, readTestdata(t, name)) {
			t.Errorf("%s: rewritten ASCII differs:\n%s", name, got)
		}
	}
}

// sigEntries are hand-made entries exercising ima-sig, the legacy ima
// template and old-kernel violations.
func sigEntries() []ima.Entry {
	sig := append([]byte{0x03, 0x02, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x00}, bytes.Repeat([]byte{0x5a}, 256)...)
	fileHash := sum(crypto.SHA256, []byte("#!/bin/sh\n"))
	oldViolation := ima.Entry{PCR: 10, TemplateName: "ima-ng", TemplateHash: make([]byte, 20),
		TemplateData: field(field(nil, append([]byte(":\x00"), make([]byte, 20)...)), []byte("/var/log/x\x00")),
		FileHash:     make([]byte, 20), Path: "/var/log/x"}
	return []ima.Entry{
		newEntry(crypto.SHA1, "ima-sig", crypto.SHA256, fileHash, "/usr/bin/signed", sig, false),
		newEntry(crypto.SHA1, "ima-sig", crypto.SHA256, fileHash, "/usr/bin/unsigned", nil, false),
		newEntry(crypto.SHA1, "ima", crypto.SHA1, sum(crypto.SHA1, []byte("x")), "/sbin/init", nil, false),
		newEntry(crypto.SHA1, "ima", crypto.SHA1, make([]byte, 20), "/tmp/violated", nil, true),
		// A current kernel's violation: algorithm name, 20 zero bytes.
		{PCR: 10, TemplateName: "ima-ng", TemplateHash: make([]byte, 20),
			TemplateData: ngData("sha256", make([]byte, 20), "/etc/shadow", nil), FileHashAlg: crypto.SHA256,
			FileHash: make([]byte, 20), Path: "/etc/shadow"},
		oldViolation,
		newEntry(crypto.SHA1, "ima-ng", crypto.SHA3_256, sum(crypto.SHA256, []byte("y")), "/opt/sha3", nil, false),
	}
}

func TestSigAndLegacyTemplates(t *testing.T) {
	entries := sigEntries()
	bin := marshalBinary(entries)
	ascii := marshalASCII(entries)
	for _, raw := range [][]byte{bin, ascii} {
		log, err := ima.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(log.Entries, entries) {
			t.Errorf("parsed\n%+v\nwant\n%+v", log.Entries, entries)
		}
	}
	// The kernel ends an ima-sig line without signature with a space; a
	// line without it is accepted too.
	line := asciiLine(entries[1])
	if !strings.HasSuffix(line, "/usr/bin/unsigned \n") {
		t.Fatalf("line %q", line)
	}
	log, err := ima.Parse([]byte(strings.TrimSuffix(line, " \n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log.Entries[0], entries[1]) {
		t.Errorf("got %+v", log.Entries[0])
	}
	// The ima template's hash covers the digest and the name padded to 256
	// bytes, with no length prefixes.
	if got, want := entries[2].TemplateHash, sum(crypto.SHA1, append(sum(crypto.SHA1, []byte("x")), append([]byte("/sbin/init"), make([]byte, 256-len("/sbin/init"))...)...)); !bytes.Equal(got, want) {
		t.Errorf("ima template hash %x, want %x", got, want)
	}
	// Linux 3.13 wrote the ima template name NUL-padded to 256 bytes.
	padded := le32(nil, 10)
	padded = append(padded, entries[2].TemplateHash...)
	padded = field(padded, []byte("ima"))
	padded = append(padded, entries[2].FileHash...)
	padded = field(padded, entries[2].TemplateData[20:])
	log, err = ima.Parse(padded)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log.Entries[0], entries[2]) {
		t.Errorf("padded ima name: got %+v", log.Entries[0])
	}
}

func TestTemplateHashSHA256(t *testing.T) {
	// binary_runtime_measurements_sha256 carries SHA-256 template hashes.
	var entries []ima.Entry
	for _, e := range sigEntries() {
		if e.Violation() {
			e.TemplateHash = make([]byte, 32)
		} else {
			e.TemplateHash = sum(crypto.SHA256, e.TemplateData)
		}
		entries = append(entries, e)
	}
	for _, raw := range [][]byte{marshalBinary(entries), marshalASCII(entries)} {
		log, err := ima.Parse(raw, ima.WithTemplateHash(crypto.SHA256))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(log.Entries, entries) {
			t.Errorf("parsed\n%+v\nwant\n%+v", log.Entries, entries)
		}
	}
	// Read as a SHA-1 log, the first entry's bytes do not line up.
	_, err := ima.Parse(marshalASCII(entries))
	if want := "ima: line 1: template hash has 64 hex digits, want 40 for SHA-1"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestFindFileHash(t *testing.T) {
	entries := sigEntries()
	signed := entries[0]
	other := signed
	other.PCR = 11
	log, err := ima.Parse(marshalBinary(append(entries, other)))
	if err != nil {
		t.Fatal(err)
	}
	found := log.FindFileHash(crypto.SHA256, signed.FileHash)
	if len(found) != 2 || found[0].Path != "/usr/bin/signed" || found[1].Path != "/usr/bin/unsigned" {
		t.Errorf("found %+v", found)
	}
	if found := log.FindFileHash(crypto.SHA1, signed.FileHash[:20]); found != nil {
		t.Errorf("wrong algorithm found %+v", found)
	}
	// Violations carry zero digests that the quote does not cover.
	if found := log.FindFileHash(crypto.SHA256, make([]byte, 20)); found != nil {
		t.Errorf("violation found %+v", found)
	}
	if found := log.FindFileHash(crypto.SHA1, make([]byte, 20)); found != nil {
		t.Errorf("legacy violation found %+v", found)
	}
	if found := log.FindFileHash(crypto.SHA1, entries[2].FileHash); len(found) != 1 || found[0].Path != "/sbin/init" {
		t.Errorf("legacy found %+v", found)
	}
	var nilLog *ima.Log
	if nilLog.FindFileHash(crypto.SHA256, signed.FileHash) != nil {
		t.Error("nil log found entries")
	}
	// The testdata's /data measurement.
	td, err := ima.Parse(readTestdata(t, "ima-log-sha256.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if found := td.FindFileHash(crypto.SHA256, mustHex(testdataEntries["ima-log-sha256.txt"][1].fileHash)); len(found) != 1 || found[0].Path != "/data" {
		t.Errorf("found %+v", found)
	}
}

func TestTruncatedBinary(t *testing.T) {
	var entries []ima.Entry
	for _, name := range testdataLogs {
		log, err := ima.Parse(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, log.Entries...)
	}
	entries = append(entries, sigEntries()...)
	bin := marshalBinary(entries)
	ends := boundaries(entries)
	next := 0
	for i := 0; i < len(bin); i++ {
		log, err := ima.Parse(bin[:i], ima.WithFormat(ima.FormatBinary))
		if next < len(ends) && i == ends[next] {
			next++
			if err != nil {
				t.Fatalf("offset %d (after entry %d): %v", i, next, err)
			}
			if len(log.Entries) != next {
				t.Fatalf("offset %d: %d entries, want %d", i, len(log.Entries), next)
			}
			continue
		}
		if err == nil {
			t.Fatalf("offset %d: parsed %d entries from a truncated log", i, len(log.Entries))
		}
		if !strings.HasPrefix(err.Error(), "ima: ") || strings.Count(err.Error(), "ima: ") != 1 {
			t.Fatalf("offset %d: error %q", i, err)
		}
	}
	if next != len(ends)-1 {
		t.Fatalf("saw %d boundaries, want %d", next, len(ends)-1)
	}
}

func TestTruncatedASCII(t *testing.T) {
	raw := append(readTestdata(t, "ima-log-sha256.txt"), marshalASCII(sigEntries())...)
	for i := 1; i < len(raw); i++ {
		log, err := ima.Parse(raw[:i], ima.WithFormat(ima.FormatASCII))
		if raw[i-1] == '\n' {
			if err != nil {
				t.Fatalf("offset %d: %v", i, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("offset %d: parsed %d entries from a truncated log", i, len(log.Entries))
		}
	}
}
