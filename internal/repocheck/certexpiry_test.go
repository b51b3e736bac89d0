package repocheck

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixtureHorizon is how long every committed test certificate must stay
// valid: a fixture that expires turns a green suite red on a date nobody
// chose. Fixtures that record evidence use RFC 5280's "no well-defined
// expiration" date (99991231235959Z); tests that must see an expired
// certificate make one at run time.
const fixtureHorizon = 10 * 365 * 24 * time.Hour

// maxFixtureSize bounds what the scan reads; larger files are not fixtures.
const maxFixtureSize = 16 << 20

// TestNoFixtureCertificateExpires: no certificate committed as test data (a
// PEM block or DER file under a testdata folder, a certificate embedded in a
// JSON fixture as base64 DER or PEM, a PEM block in a _test.go file) expires
// within ten years. Fuzz corpora (testdata/fuzz) are skipped: they are
// inputs a parser must survive, never evidence a test expects to verify.
func TestNoFixtureCertificateExpires(t *testing.T) {
	root := filepath.Join("..", "..")
	deadline := time.Now().Add(fixtureHorizon)
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.Name() == "fuzz" && filepath.Base(filepath.Dir(path)) == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		inTestdata := slices.Contains(strings.Split(filepath.ToSlash(path), "/"), "testdata")
		if !inTestdata && !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > maxFixtureSize {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, c := range fixtureCertificates(rel, b) {
			seen++
			if c.NotAfter.Before(deadline) {
				t.Errorf("%s: certificate %q (serial %s) expires %s, within %v: give the fixture generated dates or RFC 5280's 99991231235959Z",
					rel, c.Subject, c.SerialNumber, c.NotAfter.Format(time.DateOnly), fixtureHorizon)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The bench evidence alone embeds two certificates: a scan that finds
	// none has stopped looking.
	if seen < 2 {
		t.Errorf("found %d fixture certificates, expected at least 2", seen)
	}
}

// fixtureCertificates returns the certificates in one committed file.
func fixtureCertificates(name string, b []byte) []*x509.Certificate {
	certs := pemCertificates(b)
	switch strings.ToLower(filepath.Ext(name)) {
	case ".der", ".crt", ".cer", ".cert":
		if c, err := x509.ParseCertificate(b); err == nil {
			certs = append(certs, c)
		}
	case ".json":
		var v any
		if json.Unmarshal(b, &v) == nil {
			certs = append(certs, jsonCertificates(v)...)
		}
	case ".jsonl":
		for _, line := range bytes.Split(b, []byte("\n")) {
			var v any
			if json.Unmarshal(line, &v) == nil {
				certs = append(certs, jsonCertificates(v)...)
			}
		}
	}
	return certs
}

func pemCertificates(b []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		i := bytes.Index(b, []byte("-----BEGIN "))
		if i < 0 {
			return certs
		}
		block, rest := pem.Decode(b[i:])
		if block == nil {
			b = b[i+len("-----BEGIN "):]
			continue
		}
		b = rest
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

// jsonCertificates walks a decoded JSON value for strings that hold a
// certificate: PEM, or standard base64 of DER (how encoding/json writes a
// []byte field).
func jsonCertificates(v any) []*x509.Certificate {
	var certs []*x509.Certificate
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			certs = append(certs, jsonCertificates(e)...)
		}
	case []any:
		for _, e := range v {
			certs = append(certs, jsonCertificates(e)...)
		}
	case string:
		if strings.Contains(v, "-----BEGIN ") {
			return pemCertificates([]byte(v))
		}
		// A DER certificate starts with a SEQUENCE with a two-byte length:
		// base64 "MII". Anything else is not worth decoding.
		if strings.HasPrefix(v, "MII") {
			if der, err := base64.StdEncoding.DecodeString(v); err == nil {
				if c, err := x509.ParseCertificate(der); err == nil {
					certs = append(certs, c)
				}
			}
		}
	}
	return certs
}

// TestFixtureCertificatesFindsEveryForm: the scan sees a certificate in each
// form it claims to, so TestNoFixtureCertificateExpires can fail.
func TestFixtureCertificatesFindsEveryForm(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "short-lived"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	nested, err := json.Marshal(map[string]any{"a": []any{map[string]any{"cert": der}}, "roots": pemText})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want int
	}{
		{"ca.pem", []byte("junk\n" + pemText + "-----BEGIN broken\n" + pemText), 2},
		{"ek.der", der, 1},
		{"evidence.json", nested, 2},
		{"report.jsonl", append(append(nested, '\n'), nested...), 4},
		{"helpers_test.go", []byte(fmt.Sprintf("const x = `%s`", pemText)), 1},
		{"log.bin", der, 0},
	} {
		got := fixtureCertificates(tc.name, tc.data)
		if len(got) != tc.want {
			t.Errorf("%s: found %d certificates, want %d", tc.name, len(got), tc.want)
		}
		for _, c := range got {
			if c.NotAfter.After(time.Now().Add(fixtureHorizon)) {
				t.Errorf("%s: read NotAfter %s", tc.name, c.NotAfter)
			}
		}
	}
}
