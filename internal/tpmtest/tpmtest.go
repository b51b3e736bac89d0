package tpmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	gtsim "github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"
	"github.com/google/go-tpm/tpmutil"
)

// simMu serializes simulators: the reference TPM is a process-wide singleton.
var simMu sync.Mutex

// Simulator starts the in-process reference TPM for the test and closes it at
// cleanup. Tests using it must not run in parallel; Simulator serializes them.
func Simulator(tb testing.TB) transport.TPMCloser {
	tb.Helper()
	simMu.Lock()
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		simMu.Unlock()
		tb.Fatalf("open simulator: %v", err)
	}
	tb.Cleanup(func() {
		tpm.Close()
		simMu.Unlock()
	})
	return tpm
}

// SimulatorWithSeed is Simulator with a fixed seed, so that its EK is the
// same in every run (insecure: for compatibility vectors only).
func SimulatorWithSeed(tb testing.TB, seed int64) transport.TPMCloser {
	tb.Helper()
	simMu.Lock()
	sim, err := gtsim.GetWithFixedSeedInsecure(seed)
	if err != nil {
		simMu.Unlock()
		tb.Fatalf("open simulator: %v", err)
	}
	tpm := rawTPM{sim}
	tb.Cleanup(func() {
		tpm.Close()
		simMu.Unlock()
	})
	return tpm
}

// rawTPM sends commands to the simulator's command channel.
type rawTPM struct{ io.ReadWriteCloser }

func (t rawTPM) Send(cmd []byte) ([]byte, error) { return tpmutil.RunCommandRaw(t, cmd) }

// CA is a test EK certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// notAfter ends the validity of the CA and of every EK certificate it
	// issues.
	notAfter time.Time
}

// NoExpiry is RFC 5280's GeneralizedTime for a certificate with no
// well-defined expiration date (section 4.1.2.5).
var NoExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// NewCA creates a self-signed ECDSA P-256 CA whose certificates are valid
// for a day: tests that make and verify evidence in one run.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	return newCA(tb, name, time.Now().Add(24*time.Hour))
}

// NewFixtureCA creates a CA whose certificate and EK certificates never
// expire (NoExpiry): for evidence recorded into committed test data, which
// must verify on any later date (internal/repocheck
// TestNoFixtureCertificateExpires).
func NewFixtureCA(tb testing.TB, name string) *CA {
	tb.Helper()
	return newCA(tb, name, NoExpiry)
}

func newCA(tb testing.TB, name string, notAfter time.Time) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"hwattest test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, notAfter: notAfter}
}

// Intermediate issues a CA certificate under ca (ECDSA P-256), as vendors
// and clouds issue EK certificates from an intermediate under their root;
// it and its EK certificates expire when ca does.
func (ca *CA) Intermediate(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"hwattest test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              ca.notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, notAfter: ca.notAfter}
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// TCG attribute OIDs (TCG EK Credential Profile).
var (
	oidSAN             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
)

// IssueEK issues an EK certificate for key shaped like a vendor's: empty
// subject and a critical subject alternative name holding a directoryName
// with the TPM manufacturer, model and version.
func (ca *CA) IssueEK(tb testing.TB, key crypto.PublicKey, manufacturer, model, version string) []byte {
	tb.Helper()
	rdn := pkix.RDNSequence{
		{{Type: oidTPMManufacturer, Value: manufacturer}},
		{{Type: oidTPMModel, Value: model}},
		{{Type: oidTPMVersion, Value: version}},
	}
	dn, err := asn1.Marshal(rdn)
	if err != nil {
		tb.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dn}})
	if err != nil {
		tb.Fatal(err)
	}
	usage := x509.KeyUsageKeyEncipherment
	if _, ok := key.(*ecdsa.PublicKey); ok {
		usage = x509.KeyUsageKeyAgreement
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              ca.notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              usage,
		ExtraExtensions:       []pkix.Extension{{Id: oidSAN, Critical: true, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// EKKey returns the public key of the TPM's EK made from template (as
// tpm2.RSAEKTemplate or tpm2.ECCEKTemplate), flushing the object.
func EKKey(tb testing.TB, tpm transport.TPM, template tpm2.TPMTPublic) crypto.PublicKey {
	tb.Helper()
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(template)}.Execute(tpm)
	if err != nil {
		tb.Fatalf("create EK: %v", err)
	}
	defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm)
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// CertifyEKs issues certificates from ca for the TPM's RSA and ECC EKs (the
// TCG low-range templates) and stores them at their NV indices, as a
// manufacturer does.
func CertifyEKs(tb testing.TB, tpm transport.TPM, ca *CA, manufacturer, model, version string) {
	tb.Helper()
	for _, ek := range []struct {
		index    tpm2.TPMHandle
		template tpm2.TPMTPublic
	}{{0x01c00002, tpm2.RSAEKTemplate}, {0x01c0000a, tpm2.ECCEKTemplate}} {
		WriteNV(tb, tpm, ek.index, ca.IssueEK(tb, EKKey(tb, tpm, ek.template), manufacturer, model, version))
	}
}

// WritePEM writes the CA certificate as PEM to a new file and returns its path.
func (ca *CA) WritePEM(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ek-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WriteNV defines an owner-authorized NV index and writes data to it, the
// way a manufacturer stores the EK certificate.
func WriteNV(tb testing.TB, tpm transport.TPM, index tpm2.TPMHandle, data []byte) {
	tb.Helper()
	def := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: index,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, OwnerRead: true, AuthRead: true, AuthWrite: true, NoDA: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: uint16(len(data)),
		}),
	}
	if _, err := def.Execute(tpm); err != nil {
		tb.Fatalf("define NV 0x%08x: %v", uint32(index), err)
	}
	pub, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tpm)
	if err != nil {
		tb.Fatal(err)
	}
	for off := 0; off < len(data); off += 512 {
		end := min(off+512, len(data))
		_, err := tpm2.NVWrite{
			AuthHandle: tpm2.TPMRHOwner,
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: pub.NVName},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]},
			Offset:     uint16(off),
		}.Execute(tpm)
		if err != nil {
			tb.Fatalf("write NV 0x%08x: %v", uint32(index), err)
		}
	}
}

// ExtendPCR extends one PCR in one bank with digest.
func ExtendPCR(tb testing.TB, tpm transport.TPM, bank tpm2.TPMAlgID, pcr int, digest []byte) {
	tb.Helper()
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: bank, Digest: digest}}},
	}.Execute(tpm)
	if err != nil {
		tb.Fatalf("extend %v PCR %d: %v", bank, pcr, err)
	}
}

// ReplayEventLog extends the TPM's PCRs with every measured event of a TCG
// boot event log, in the given banks, so that a quote agrees with the log.
// Events for PCRs above maxPCR are skipped.
func ReplayEventLog(tb testing.TB, tpm transport.TPM, raw []byte, banks []tpm2.TPMAlgID, maxPCR int) {
	tb.Helper()
	el, err := attest.ParseEventLog(raw)
	if err != nil {
		tb.Fatalf("parse event log: %v", err)
	}
	for _, bank := range banks {
		for _, e := range el.Events(attest.HashAlg(bank)) {
			if e.Type == 0x03 || e.Index > maxPCR || len(e.Digest) == 0 { // EV_NO_ACTION is not measured
				continue
			}
			ExtendPCR(tb, tpm, bank, e.Index, e.Digest)
		}
	}
}

// CreateKey creates a key from template under an ECC storage root key, the
// way the attester creates its AK, and returns its TPMT_PUBLIC, creation data,
// creation attestation and signature (certified by the key itself). Tests use
// it to make keys a verifier must refuse as AKs.
func CreateKey(tb testing.TB, tpm transport.TPM, template tpm2.TPMTPublic) (public, creationData, attest, sig []byte) {
	tb.Helper()
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		tb.Fatalf("create SRK: %v", err)
	}
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(tpm)
	parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}
	created, err := tpm2.Create{ParentHandle: parent, InPublic: tpm2.New2B(template)}.Execute(tpm)
	if err != nil {
		tb.Fatalf("create key: %v", err)
	}
	loaded, err := tpm2.Load{ParentHandle: parent, InPrivate: created.OutPrivate, InPublic: created.OutPublic}.Execute(tpm)
	if err != nil {
		tb.Fatalf("load key: %v", err)
	}
	defer tpm2.FlushContext{FlushHandle: loaded.ObjectHandle}.Execute(tpm)
	cert, err := tpm2.CertifyCreation{
		SignHandle:     tpm2.AuthHandle{Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:   tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name},
		CreationHash:   created.CreationHash,
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		CreationTicket: created.CreationTicket,
	}.Execute(tpm)
	if err != nil {
		tb.Fatalf("certify creation: %v", err)
	}
	return created.OutPublic.Bytes(), created.CreationData.Bytes(), cert.CertifyInfo.Bytes(), tpm2.Marshal(cert.Signature)
}

// ServeSimulator serves tpm (normally a Simulator) on a loopback TCP port
// with the raw TPM protocol swtpm speaks, so that code that opens a TPM by
// address ("swtpm://127.0.0.1:<port>") can use the simulator. It serves one
// connection at a time, like swtpm, until the test ends.
func ServeSimulator(tb testing.TB, tpm transport.TPM) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu   sync.Mutex
		conn net.Conn
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conn = c
			mu.Unlock()
			serveConn(c, tpm)
		}
	}()
	// Stop serving, and wait until no command is in flight, before the
	// simulator closes (cleanups run last-registered first).
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		if conn != nil {
			conn.Close()
		}
		mu.Unlock()
		<-done
	})
	return "swtpm://" + ln.Addr().String()
}

func serveConn(conn net.Conn, tpm transport.TPM) {
	defer conn.Close()
	for {
		hdr := make([]byte, 10)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(hdr[2:6])
		if size < 10 || size > 1<<16 {
			return
		}
		cmd := make([]byte, size)
		copy(cmd, hdr)
		if _, err := io.ReadFull(conn, cmd[10:]); err != nil {
			return
		}
		rsp, err := tpm.Send(cmd)
		if err != nil {
			return
		}
		if _, err := conn.Write(rsp); err != nil {
			return
		}
	}
}
