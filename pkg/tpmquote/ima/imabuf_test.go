package ima_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// bufLogASCII is an ima-buf log as ascii_runtime_measurements shows it: a
// kexec command line, a key added to the .ima keyring and an empty buffer
// (the kernel still writes the space before it). The template hashes and the
// PCR 10 values in bufLogPCR10 were computed independently (Python hashlib).
const bufLogASCII = "10 893d3c42d51bae9b35aaa9040d01b87e003e0074 ima-buf sha256:c0b843109c3a388306ef07e9e3cd6b817204c61e2569e25faa974ad3eed09c73 kexec-cmdline 726f6f743d2f6465762f7664613120726f20636f6e736f6c653d74747953302c313135323030\n" +
	"10 0d45d7f947f9058d1840050b0435a5a84c109b57 ima-buf sha256:1bdfab9a657d2ef25ff540bef938b0fb78808ee5f95b611df832f4f589d570b8 .ima 30820122300d06092a864886f70d01010105000382010f00\n" +
	"10 8afd301242e41952e4653973557c6c77f50418f4 ima-buf sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 selinux-state \n"

var bufLogPCR10 = map[crypto.Hash]string{
	crypto.SHA1:   "b513c93e7fe8983fcde48a95d955a8f49e9e9568",
	crypto.SHA256: "c4aa2818a4cb3f75acfb9e91bd5ebb11107c47adc3a2479213388159bbd3437a",
}

// bufEntries are the entries of bufLogASCII, built field by field.
func bufEntries() []ima.Entry {
	mk := func(th, name string, buf []byte) ima.Entry {
		digest := sum(crypto.SHA256, buf)
		// d-ng, n-ng, buf: each a u32 length and its bytes.
		td := field(nil, append([]byte("sha256:\x00"), digest...))
		td = field(td, []byte(name+"\x00"))
		td = field(td, buf)
		e := ima.Entry{PCR: 10, TemplateName: "ima-buf", TemplateHash: mustHex(th), TemplateData: td,
			FileHashAlg: crypto.SHA256, FileHash: digest, Path: name}
		if len(buf) > 0 {
			e.Buffer = buf
		}
		return e
	}
	return []ima.Entry{
		mk("893d3c42d51bae9b35aaa9040d01b87e003e0074", "kexec-cmdline", []byte("root=/dev/vda1 ro console=ttyS0,115200")),
		mk("0d45d7f947f9058d1840050b0435a5a84c109b57", ".ima", mustHex("30820122300d06092a864886f70d01010105000382010f00")),
		mk("8afd301242e41952e4653973557c6c77f50418f4", "selinux-state", nil),
	}
}

// bufLogBinary is bufLogASCII in the binary_runtime_measurements layout,
// written out by hand rather than with marshalBinary.
func bufLogBinary() []byte {
	var b []byte
	for _, e := range bufEntries() {
		b = append(b, 10, 0, 0, 0)
		b = append(b, e.TemplateHash...)
		b = append(b, 7, 0, 0, 0)
		b = append(b, "ima-buf"...)
		b = le32(b, uint32(len(e.TemplateData)))
		b = append(b, e.TemplateData...)
	}
	return b
}

func TestIMABuf(t *testing.T) {
	want := bufEntries()
	if got := marshalASCII(want); string(got) != bufLogASCII {
		t.Fatalf("test writer disagrees with the fixture:\n%s", got)
	}
	for _, tt := range []struct {
		name string
		raw  []byte
	}{
		{"binary", bufLogBinary()},
		{"ascii", []byte(bufLogASCII)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, err := ima.Parse(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(log.Entries, want) {
				t.Fatalf("parsed\n%+v\nwant\n%+v", log.Entries, want)
			}
			if got := string(log.Entries[0].Buffer); got != "root=/dev/vda1 ro console=ttyS0,115200" {
				t.Errorf("kexec command line %q", got)
			}
			// Replayed like every other entry, to independently computed
			// values.
			pcr10 := map[crypto.Hash][]byte{}
			for h, v := range bufLogPCR10 {
				pcr10[h] = mustHex(v)
			}
			if _, err := ima.Verify(tt.raw, pcr10); err != nil {
				t.Fatal(err)
			}
		})
	}
	// An empty buffer is written with a trailing space; a line without it is
	// accepted too.
	lines := strings.SplitAfter(bufLogASCII, "\n")
	log, err := ima.Parse([]byte(strings.TrimSuffix(lines[2], " \n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(log.Entries[0], want[2]) {
		t.Errorf("got %+v", log.Entries[0])
	}
}

// TestFindByContentNotName: the template name is not covered by the
// template hash, so FindFileHash does not use it: an ima-buf entry is found
// like a file's, and relabelling an ima-sig entry as ima-buf (the same layout)
// or back changes nothing it reports. FindFile binds the path, which the
// template hash covers.
func TestFindByContentNotName(t *testing.T) {
	buf := bufEntries()[0]
	file := newEntry(crypto.SHA1, "ima-sig", crypto.SHA256, buf.FileHash, "/boot/cmdline", nil, false)
	for _, relabel := range []struct{ file, buf string }{
		{"ima-sig", "ima-buf"}, {"ima-buf", "ima-buf"}, {"ima-sig", "ima-sig"}, {"ima-buf", "ima-sig"},
	} {
		f, b := relabelled(file, relabel.file), relabelled(buf, relabel.buf)
		for _, raw := range [][]byte{marshalBinary([]ima.Entry{b, f}), marshalASCII([]ima.Entry{b, f})} {
			log, err := ima.Parse(raw)
			if err != nil {
				t.Fatalf("%v: %v", relabel, err)
			}
			var paths []string
			for _, e := range log.FindFileHash(crypto.SHA256, buf.FileHash) {
				paths = append(paths, e.Path)
			}
			if want := []string{"kexec-cmdline", "/boot/cmdline"}; !reflect.DeepEqual(paths, want) {
				t.Errorf("%v: FindFileHash found %q, want %q", relabel, paths, want)
			}
			if found := log.FindFile(crypto.SHA256, buf.FileHash, "/boot/cmdline"); len(found) != 1 || found[0].Path != "/boot/cmdline" {
				t.Errorf("%v: FindFile found %+v", relabel, found)
			}
			if found := log.FindFile(crypto.SHA256, buf.FileHash, "/boot/other"); found != nil {
				t.Errorf("%v: FindFile of another path found %+v", relabel, found)
			}
		}
	}
}

func TestIMABufTemplateHashSHA256(t *testing.T) {
	entries := bufEntries()
	for i := range entries {
		entries[i].TemplateHash = sum(crypto.SHA256, entries[i].TemplateData)
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
}

func TestIMABufChanged(t *testing.T) {
	// The template hash covers the buffer: "ttyS0" changed to "ttyS1".
	e := bufEntries()[0]
	changedTD := bytes.Replace(e.TemplateData, []byte("ttyS0"), []byte("ttyS1"), 1)
	wantSum := hex.EncodeToString(sum(crypto.SHA1, changedTD))

	bin := bytes.Replace(bufLogBinary(), []byte("ttyS0"), []byte("ttyS1"), 1)
	_, err := ima.Parse(bin)
	want := "ima: entry 1 at offset 0: template hash 893d3c42d51bae9b35aaa9040d01b87e003e0074 is not the SHA-1 of the template data (" + wantSum + ")"
	if err == nil || err.Error() != want {
		t.Errorf("binary: got %v\nwant %s", err, want)
	}
	ascii := strings.Replace(bufLogASCII, hex.EncodeToString([]byte("ttyS0")), hex.EncodeToString([]byte("ttyS1")), 1)
	_, err = ima.Parse([]byte(ascii))
	want = "ima: line 1: template hash 893d3c42d51bae9b35aaa9040d01b87e003e0074 is not the SHA-1 of the template data (" + wantSum + ")"
	if err == nil || err.Error() != want {
		t.Errorf("ASCII: got %v\nwant %s", err, want)
	}
}

func TestIMABufLimit(t *testing.T) {
	// A buffer of MaxBufferLen bytes is accepted in both forms.
	buf := bytes.Repeat([]byte{0x5a}, ima.MaxBufferLen)
	td := field(nil, dng("sha256", sum(crypto.SHA256, buf)))
	td = field(td, []byte("kexec-cmdline\x00"))
	td = field(td, buf)
	e := ima.Entry{PCR: 10, TemplateName: "ima-buf", TemplateHash: sum(crypto.SHA1, td), TemplateData: td,
		FileHashAlg: crypto.SHA256, FileHash: sum(crypto.SHA256, buf), Path: "kexec-cmdline", Buffer: buf}
	for _, raw := range [][]byte{marshalBinary([]ima.Entry{e}), marshalASCII([]ima.Entry{e})} {
		log, err := ima.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(log.Entries, []ima.Entry{e}) {
			t.Errorf("parsed %+v", log.Entries)
		}
	}
}

// relabelled is e under template name (ima-sig or ima-buf): the same
// template data, its third field read as a signature or a buffer.
func relabelled(e ima.Entry, name string) ima.Entry {
	third := append(e.Signature, e.Buffer...)
	e.TemplateName, e.Signature, e.Buffer = name, nil, nil
	if len(third) > 0 && name == ima.TemplateIMASig {
		e.Signature = third
	} else if len(third) > 0 {
		e.Buffer = third
	}
	return e
}

func TestBootAggregate(t *testing.T) {
	pcrs := func(h crypto.Hash, n int) [][]byte {
		var p [][]byte
		for i := 0; i < n; i++ {
			p = append(p, bytes.Repeat([]byte{byte(i)}, h.Size()))
		}
		return p
	}
	cat := func(p [][]byte) []byte { return bytes.Join(p, nil) }
	for _, tc := range []struct {
		h    crypto.Hash
		n    int
		pcrs [][]byte
		want []byte
	}{
		{crypto.SHA1, 8, pcrs(crypto.SHA1, 10), sum(crypto.SHA1, cat(pcrs(crypto.SHA1, 8)))},
		{crypto.SHA256, 10, pcrs(crypto.SHA256, 10), sum(crypto.SHA256, cat(pcrs(crypto.SHA256, 10)))},
		{crypto.SHA384, 10, pcrs(crypto.SHA384, 10), sum(crypto.SHA384, cat(pcrs(crypto.SHA384, 10)))},
		{crypto.SHA512, 10, pcrs(crypto.SHA512, 11), sum(crypto.SHA512, cat(pcrs(crypto.SHA512, 10)))},
		{crypto.SHA256, 10, pcrs(crypto.SHA256, 9), nil}, // PCR 9 missing
		{crypto.SHA256, 10, pcrs(crypto.SHA1, 10), nil},  // wrong sizes
		{crypto.MD5, 0, pcrs(crypto.MD5, 10), nil},       // not a bank
	} {
		if got := ima.BootAggregatePCRs(tc.h); got != tc.n {
			t.Errorf("BootAggregatePCRs(%v) = %d, want %d", tc.h, got, tc.n)
		}
		if got := ima.BootAggregate(tc.h, tc.pcrs); !bytes.Equal(got, tc.want) {
			t.Errorf("BootAggregate(%v, %d PCRs) = %x, want %x", tc.h, len(tc.pcrs), got, tc.want)
		}
	}
}

func TestBootAggregateEntry(t *testing.T) {
	agg := newEntry(crypto.SHA1, "ima-ng", crypto.SHA256, bytes.Repeat([]byte{1}, 32), ima.BootAggregateName, nil, false)
	file := newEntry(crypto.SHA1, "ima-ng", crypto.SHA256, bytes.Repeat([]byte{2}, 32), "/bin/sh", nil, false)
	other := agg
	other.PCR = 11
	viol := newEntry(crypto.SHA1, "ima-ng", 0, make([]byte, 20), ima.BootAggregateName, nil, true)
	for _, tc := range []struct {
		name    string
		entries []ima.Entry
		want    int // index, or -1
	}{
		{"first", []ima.Entry{agg, file}, 0},
		{"after another PCR's entry", []ima.Entry{other, agg, file}, 1},
		{"second", []ima.Entry{file, agg}, -1},
		{"violation", []ima.Entry{viol, file}, -1},
		{"empty", nil, -1},
		{"other PCR only", []ima.Entry{other}, -1},
	} {
		log := &ima.Log{Entries: tc.entries}
		got := log.BootAggregateEntry()
		if tc.want < 0 && got != nil || tc.want >= 0 && got != &log.Entries[tc.want] {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
	var nilLog *ima.Log
	if nilLog.BootAggregateEntry() != nil {
		t.Error("nil log")
	}
}
