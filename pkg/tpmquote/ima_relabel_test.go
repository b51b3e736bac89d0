package tpmquote_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// imaEntry is one entry of a hand-made IMA log: the fields of an ima-ng,
// ima-sig or ima-buf entry (third is the sig or buf field; nil for ima-ng).
type imaEntry struct {
	template string
	alg      string // of digest; "" is sha256
	digest   []byte
	path     string
	third    []byte
}

// templateData is what the kernel hashes: d-ng, n-ng and, for ima-sig and
// ima-buf, the third field, each a u32 length and its bytes.
func (e imaEntry) algName() string {
	if e.alg == "" {
		return "sha256"
	}
	return e.alg
}

func (e imaEntry) templateData() []byte {
	fields := [][]byte{append([]byte(e.algName()+":\x00"), e.digest...), append([]byte(e.path), 0)}
	if e.template != "ima-ng" {
		fields = append(fields, e.third)
	}
	var b []byte
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// ascii is the entry's line of ascii_runtime_measurements, under template
// name name (which the template hash does not cover).
func (e imaEntry) ascii(name string) string {
	th := sha1.Sum(e.templateData())
	line := fmt.Sprintf("10 %x %s %s:%x %s", th, name, e.algName(), e.digest, e.path)
	if e.template != "ima-ng" {
		line += fmt.Sprintf(" %x", e.third)
	}
	return line + "\n"
}

// binary is the entry in binary_runtime_measurements, under template name
// name.
func (e imaEntry) binary(name string) []byte {
	td := e.templateData()
	th := sha1.Sum(td)
	b := binary.LittleEndian.AppendUint32(nil, 10)
	b = append(b, th[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(td)))
	return append(b, td...)
}

func fileEntry(template, path string, content []byte) imaEntry {
	d := sha256.Sum256(content)
	e := imaEntry{template: template, digest: d[:], path: path}
	if template != "ima-ng" {
		e.third = []byte{} // unsigned file
	}
	return e
}

// zeroBootAggregate is the boot aggregate of a fresh simulator: SHA-256 of
// its PCRs 0-9 of the SHA-256 bank, all zeros.
func zeroBootAggregate() imaEntry {
	d := sha256.Sum256(make([]byte, 10*sha256.Size))
	return imaEntry{template: "ima-ng", digest: d[:], path: "boot_aggregate"}
}

// imaLog renders entries in the ASCII or binary form, each under its own
// template name unless names gives another.
func imaLog(form string, entries []imaEntry, names map[int]string) []byte {
	var b []byte
	for i, e := range entries {
		name := e.template
		if n, ok := names[i]; ok {
			name = n
		}
		if form == "ascii" {
			b = append(b, e.ascii(name)...)
		} else {
			b = append(b, e.binary(name)...)
		}
	}
	return b
}

func allow(contents ...[]byte) map[string]bool {
	m := map[string]bool{}
	for _, c := range contents {
		d := sha256.Sum256(c)
		m[hex.EncodeToString(d[:])] = true
	}
	return m
}

var quoteIMA = tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}

// TestIMARelabelledEntryStillChecked: the kernel measured an unapproved
// executable; whatever template name the log gives its entry, the allowlist
// sees it, and the log either verifies with the entry in Entries or does not
// verify at all. The log starts with a genuine boot_aggregate, so only the
// allowlist can fail.
func TestIMARelabelledEntryStillChecked(t *testing.T) {
	good, evil := []byte("approved binary"), []byte("cryptominer")
	kexec := []byte("root=/dev/sda1 ro")
	kd := sha256.Sum256(kexec)
	entries := []imaEntry{
		zeroBootAggregate(),
		fileEntry("ima-sig", "/usr/bin/approved", good),
		fileEntry("ima-sig", "/tmp/evil", evil),
		{template: "ima-buf", digest: kd[:], path: "kexec-cmdline", third: kexec},
	}
	p := &policy.Policy{Name: "level4", Required: true, IMAAllowlist: allow(good, kexec)}
	const evilIdx, bufIdx = 2, 3

	for _, form := range []string{"ascii", "binary"} {
		for _, tc := range []struct {
			name  string
			names map[int]string
			// refused: the log does not verify (the name changes how the
			// template data is read or rebuilt); else it verifies and
			// the evil entry is checked.
			refused bool
		}{
			{name: "honest"},
			{name: "sig as buf", names: map[int]string{evilIdx: "ima-buf"}},
			{name: "sig as buf, buf as sig", names: map[int]string{evilIdx: "ima-buf", bufIdx: "ima-sig"}},
			{name: "sig as ng", names: map[int]string{evilIdx: "ima-ng"}, refused: true},
			{name: "sig as legacy ima", names: map[int]string{evilIdx: "ima"}, refused: true},
			{name: "sig as modsig", names: map[int]string{evilIdx: "ima-modsig"}, refused: true},
			{name: "sig as unknown", names: map[int]string{evilIdx: "not-a-template"}, refused: true},
			{name: "boot_aggregate as buf", names: map[int]string{0: "ima-buf"}, refused: true},
		} {
			t.Run(form+"/"+tc.name, func(t *testing.T) {
				sim := newSimTPM(t)
				for _, e := range entries {
					tpmtest.ExtendIMA(t, sim.tpm, e.templateData(), false)
				}
				raw := imaLog(form, entries, tc.names)
				res, err := attestIMA(t, sim, quoteIMA, filepath.Join(t.TempDir(), "log"), raw)
				if tc.refused {
					if r := tpmquote.ReasonOf(err); r != tpmquote.ReasonMalformed && r != tpmquote.ReasonIMALog {
						t.Fatalf("err = %v, want a refusal of the IMA log", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.IMA.BootAggregate == nil || !res.IMA.BootAggregate.PCRsVerified {
					t.Fatalf("boot aggregate %+v, want verified", res.IMA.BootAggregate)
				}
				var paths []string
				for _, e := range res.IMA.Entries {
					paths = append(paths, e.Path)
				}
				if want := []string{"/usr/bin/approved", "/tmp/evil", "kexec-cmdline"}; !slices.Equal(paths, want) {
					t.Errorf("entries %q, want %q", paths, want)
				}
				fails := p.Evaluate(res)
				if len(fails) != 1 || !strings.Contains(fails[0], "/tmp/evil") {
					t.Errorf("policy failures %q, want one naming /tmp/evil", fails)
				}
				// With the evil file allowed the policy passes: the
				// failure above is the allowlist's, nothing else.
				ok := &policy.Policy{Name: "ok", IMAAllowlist: allow(good, kexec, evil)}
				if fails := ok.Evaluate(res); len(fails) != 0 {
					t.Errorf("allowlisted log fails: %q", fails)
				}
			})
		}
	}
}

// TestIMABufferNeedsAllowlisting: an honest ima-buf entry is a measurement
// like any other; its digest must be listed.
func TestIMABufferNeedsAllowlisting(t *testing.T) {
	kexec := []byte("root=/dev/sda1 ro")
	kd := sha256.Sum256(kexec)
	entries := []imaEntry{zeroBootAggregate(), {template: "ima-buf", digest: kd[:], path: "kexec-cmdline", third: kexec}}
	sim := newSimTPM(t)
	for _, e := range entries {
		tpmtest.ExtendIMA(t, sim.tpm, e.templateData(), false)
	}
	res, err := attestIMA(t, sim, quoteIMA, filepath.Join(t.TempDir(), "log"), imaLog("ascii", entries, nil))
	if err != nil {
		t.Fatal(err)
	}
	p := &policy.Policy{Name: "level4", IMAAllowlist: map[string]bool{}}
	want := fmt.Sprintf("IMA: kexec-cmdline (sha256:%x) is not allowed", kd)
	if fails := p.Evaluate(res); !slices.Equal(fails, []string{want}) {
		t.Errorf("failures %q, want %q", fails, want)
	}
	p.IMAAllowlist = allow(kexec)
	if fails := p.Evaluate(res); len(fails) != 0 {
		t.Errorf("failures %q with the buffer listed", fails)
	}
}

// TestIMANothingMeasured: a log that does not start with the kernel's
// boot_aggregate shows no IMA, whatever it holds, and fails a policy that
// requires IMA, even one with every digest listed.
func TestIMANothingMeasured(t *testing.T) {
	evil := []byte("cryptominer")
	ba, f := zeroBootAggregate(), fileEntry("ima-ng", "/tmp/evil", evil)
	p := &policy.Policy{Name: "level4", IMAAllowlist: allow(evil)}
	p.IMAAllowlist[hex.EncodeToString(ba.digest)] = true
	const wantFail = "IMA allowlist required, but the verified IMA log does not start with the kernel's boot_aggregate: IMA did not measure this boot"

	for _, tc := range []struct {
		name     string
		extended []imaEntry // what the "kernel" extended PCR 10 with
		log      []imaEntry
	}{
		{"PCR 10 never extended, a log", nil, []imaEntry{f}},
		{"PCR 10 never extended, a log with a boot_aggregate", nil, []imaEntry{ba, f}},
		{"PCR 10 extended without a boot_aggregate", []imaEntry{f}, []imaEntry{f}},
		{"boot_aggregate second", []imaEntry{f, ba}, []imaEntry{f, ba}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSimTPM(t)
			for _, e := range tc.extended {
				tpmtest.ExtendIMA(t, sim.tpm, e.templateData(), false)
			}
			res, err := attestIMA(t, sim, quoteIMA, filepath.Join(t.TempDir(), "log"), imaLog("ascii", tc.log, nil))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.IMA.BootAggregate != nil {
				t.Errorf("boot aggregate %+v", res.IMA.BootAggregate)
			}
			if fails := p.Evaluate(res); !slices.Equal(fails, []string{wantFail}) {
				t.Errorf("failures %q", fails)
			}
			detail := res.Checks[len(res.Checks)-1].Detail
			if !strings.Contains(detail, "no boot_aggregate: IMA did not measure this boot") {
				t.Errorf("ima.replay detail %q", detail)
			}
		})
	}
}

// TestIMABootAggregatePCRs: the boot aggregate is checked against the quoted
// PCRs 0-9 (SHA-256) or 0-7 (SHA-1) when they are quoted; a PCR extended
// after IMA read them refuses the attestation.
func TestIMABootAggregatePCRs(t *testing.T) {
	approved := []byte("approved binary")
	f := fileEntry("ima-ng", "/usr/bin/approved", approved)
	sha1Sum := sha1.Sum(make([]byte, 8*sha1.Size))
	sha1Agg := imaEntry{template: "ima-ng", alg: "sha1", digest: sha1Sum[:], path: "boot_aggregate"}
	for _, tc := range []struct {
		name     string
		sel      tpmquote.PCRSelection
		agg      imaEntry
		late     int // PCR extended after IMA started, or -1
		verified bool
		refused  string
	}{
		{name: "sha256 quoted", sel: quoteIMA, agg: zeroBootAggregate(), late: -1, verified: true},
		{name: "sha256 not all quoted", sel: tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7, 10}}, agg: zeroBootAggregate(), late: -1},
		{name: "sha256 PCR 9 extended later", sel: quoteIMA, agg: zeroBootAggregate(), late: 9,
			refused: "tpmquote: IMA boot_aggregate sha256:%x is not the digest of the quoted PCRs 0-9 (%x): they changed after the kernel read them, or the IMA log is not this boot's"},
		{name: "sha256 PCR 4 extended later", sel: quoteIMA, agg: zeroBootAggregate(), late: 4, refused: "tpmquote: IMA boot_aggregate"},
		{name: "sha1 quoted", sel: tpmquote.PCRSelection{tpmquote.SHA1: {0, 1, 2, 3, 4, 5, 6, 7}, tpmquote.SHA256: {10}}, agg: sha1Agg, late: -1, verified: true},
		{name: "sha1 PCR 8 extended later", sel: tpmquote.PCRSelection{tpmquote.SHA1: {0, 1, 2, 3, 4, 5, 6, 7, 8}, tpmquote.SHA256: {10}}, agg: sha1Agg, late: 8, verified: true},
		{name: "forged", sel: quoteIMA, agg: imaEntry{template: "ima-ng", digest: make([]byte, 31), path: "boot_aggregate"}, late: -1, refused: "tpmquote: IMA boot_aggregate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agg := tc.agg
			if tc.name == "forged" {
				agg.digest = append(agg.digest, 1)
			}
			td, line := agg.templateData(), agg.ascii("ima-ng")
			sim := newSimTPM(t)
			tpmtest.ExtendIMA(t, sim.tpm, td, false)
			tpmtest.ExtendIMA(t, sim.tpm, f.templateData(), false)
			if tc.late >= 0 {
				tpmtest.ExtendPCR(t, sim.tpm, 0x000b, tc.late, make([]byte, 32))
				tpmtest.ExtendPCR(t, sim.tpm, 0x0004, tc.late, make([]byte, 20))
			}
			raw := append([]byte(line), f.ascii("ima-ng")...)
			res, err := attestIMA(t, sim, tc.sel, filepath.Join(t.TempDir(), "log"), raw)
			if tc.refused != "" {
				if tpmquote.ReasonOf(err) != tpmquote.ReasonIMALog || !strings.HasPrefix(err.Error(), "tpmquote: IMA boot_aggregate") {
					t.Fatalf("err = %v, want the boot_aggregate refused", err)
				}
				if strings.Contains(tc.refused, "%x") {
					var pcrs []byte
					for i := 0; i < 9; i++ {
						pcrs = append(pcrs, make([]byte, 32)...)
					}
					pcr9 := sha256.Sum256(make([]byte, 64))
					want := sha256.Sum256(append(pcrs, pcr9[:]...))
					if msg := fmt.Sprintf(tc.refused, agg.digest, want); err.Error() != msg {
						t.Errorf("err = %q\nwant  %q", err, msg)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			ba := res.IMA.BootAggregate
			if ba == nil || ba.PCRsVerified != tc.verified || !bytes.Equal(ba.Hash, agg.digest) {
				t.Fatalf("boot aggregate %+v, want verified=%v", ba, tc.verified)
			}
			if len(res.IMA.Entries) != 1 || res.IMA.Entries[0].Path != "/usr/bin/approved" {
				t.Errorf("entries %+v", res.IMA.Entries)
			}
			p := &policy.Policy{Name: "level4", IMAAllowlist: allow(approved)}
			if fails := p.Evaluate(res); len(fails) != 0 {
				t.Errorf("failures %q", fails)
			}
		})
	}
}

// The real logs' boot_aggregate entries are found. In the SHA-1, SHA-384 and
// SHA-512 logs it is logged as a violation (template hash zero), which a
// kernel never logs for it: not a boot aggregate.
func TestIMATestdataBootAggregate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("ima", "testdata", "ima-log-*.txt"))
	found := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		log, err := ima.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		e := log.BootAggregateEntry()
		if want := !log.Entries[0].Violation(); (e != nil) != want || e != nil && e != &log.Entries[0] {
			t.Errorf("%s: boot aggregate %v", f, e)
		}
		if log.Entries[0].Path == ima.BootAggregateName && !log.Entries[0].Violation() {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d logs with a boot aggregate, want 1 (ima-log-sha256.txt)", found)
	}
}
