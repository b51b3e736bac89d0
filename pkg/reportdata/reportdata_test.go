package reportdata_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hwattest/hwattest/pkg/reportdata"
)

func TestCheck(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, reportdata.NonceSize)
	other := bytes.Repeat([]byte{8}, reportdata.NonceSize)
	rd, err := reportdata.New(nonce, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rd[:32], nonce) {
		t.Fatalf("nonce half = %x", rd[:32])
	}
	foreign, _ := reportdata.New(nonce, "evil.example")
	replayed, _ := reportdata.New(other, "example.org")
	for _, tc := range []struct {
		name string
		got  []byte
		want error
	}{
		{"bound", rd[:], nil},
		{"another trust domain", foreign[:], reportdata.ErrTrustDomain},
		{"another nonce", replayed[:], reportdata.ErrNonce},
	} {
		if err := reportdata.Check(tc.got, nonce, "example.org"); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Check = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := reportdata.Check(rd[:63], nonce, "example.org"); err == nil || err.Error() != "reportdata: report data is 63 bytes, want 64" {
		t.Errorf("short: %v", err)
	}
	if _, err := reportdata.New(nonce[:16], "example.org"); err == nil || err.Error() != "reportdata: nonce is 16 bytes, want 32" {
		t.Errorf("short nonce: %v", err)
	}
}

func TestCheckWithKey(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, reportdata.NonceSize)
	rd, err := reportdata.NewWithKey(nonce, "example.org", []byte("key A"))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := reportdata.New(nonce, "example.org")
	if bytes.Equal(rd[32:], plain[32:]) {
		t.Fatal("the key layout collides with the plain one")
	}
	for _, tc := range []struct {
		td, key string
		want    error
	}{
		{"example.org", "key A", nil},
		{"example.org", "key B", reportdata.ErrTrustDomainOrKey},
		{"other.example", "key A", reportdata.ErrTrustDomainOrKey},
	} {
		if err := reportdata.CheckWithKey(rd[:], nonce, tc.td, []byte(tc.key)); err != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.td, tc.key, err, tc.want)
		}
	}
	if err := reportdata.CheckWithKey(rd[:], bytes.Repeat([]byte{8}, 32), "example.org", []byte("key A")); err != reportdata.ErrNonce {
		t.Errorf("other nonce: %v", err)
	}
}
