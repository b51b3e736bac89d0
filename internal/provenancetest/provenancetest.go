package provenancetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// BundleMediaType is the media type of the bundles written here.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// SLSA provenance as GitHub's SLSA generator writes it for a container.
const (
	SLSAPredicateType = "https://slsa.dev/provenance/v1"
	GitHubBuilderID   = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"
	GitHubBuildType   = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
)

// Sigstore is a test Sigstore instance.
type Sigstore struct {
	vs       *ca.VirtualSigstore
	root     *x509.Certificate
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
	serial   int64
}

// New returns a fresh test Sigstore.
func New() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	r, rk, err := ca.GenerateRootCa()
	if err != nil {
		return nil, err
	}
	in, ik, err := ca.GenerateFulcioIntermediate(r, rk)
	if err != nil {
		return nil, err
	}
	return &Sigstore{vs: vs, root: r, inter: in, interKey: ik, serial: 1}, nil
}

// TrustedRoot returns the trusted_root.json of this instance.
func (s *Sigstore) TrustedRoot() ([]byte, error) {
	fulcio := &root.FulcioCertificateAuthority{
		Root:                s.root,
		Intermediates:       []*x509.Certificate{s.inter},
		ValidityPeriodStart: s.root.NotBefore,
		ValidityPeriodEnd:   s.root.NotAfter,
		URI:                 "https://fulcio.test",
	}
	// VirtualSigstore keys its Rekor logs by the hex of the log ID, and
	// stores the hex string's bytes as the ID: the trusted root needs the
	// raw ID.
	logs := map[string]*root.TransparencyLog{}
	for k, l := range s.vs.RekorLogs() {
		id, err := hex.DecodeString(string(l.ID))
		if err != nil {
			return nil, err
		}
		c := *l
		c.ID = id
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{fulcio}, map[string]*root.TransparencyLog{},
		s.vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// Start returns a fresh test Sigstore whose trusted_root.json is written to
// rootPath.
func Start(tb testing.TB, rootPath string) *Sigstore {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.WriteTrustedRoot(rootPath); err != nil {
		tb.Fatal(err)
	}
	return s
}

// AttestSLSA returns a bundle, signed by id, of an SLSA provenance v1
// statement about the sha256 digest digestHex with builderID and buildType.
func (s *Sigstore) AttestSLSA(tb testing.TB, id Identity, digestHex, builderID, buildType string, o Options) []byte {
	tb.Helper()
	b, err := s.Attest(id, Statement(digestHex, SLSAPredicateType, SLSA(builderID, buildType)), o)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// WriteTrustedRoot writes the trusted root to path.
func (s *Sigstore) WriteTrustedRoot(path string) error {
	b, err := s.TrustedRoot()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Identity is a signer's certificate content.
type Identity struct {
	Issuer           string
	SAN              string // a URI (contains "://") or an email address
	SourceRepository string
	SourceRef        string
	SourceDigest     string
	BuildSignerURI   string
}

// GitHub returns a GitHub Actions-like identity for repo ("org/name").
func GitHub(repo string) Identity {
	return Identity{
		Issuer:           "https://token.actions.githubusercontent.com",
		SAN:              "https://github.com/" + repo + "/.github/workflows/release.yml@refs/heads/main",
		SourceRepository: "https://github.com/" + repo,
		SourceRef:        "refs/heads/main",
		SourceDigest:     "0123456789abcdef0123456789abcdef01234567",
		BuildSignerURI:   "https://github.com/" + repo + "/.github/workflows/release.yml@refs/heads/main",
	}
}

// Options change how a bundle is made.
type Options struct {
	// CertNotBefore, when set, is the signing certificate's start of
	// validity (it lasts 10 minutes); default one minute ago.
	CertNotBefore time.Time
	// NoTimestamp leaves out the RFC 3161 timestamp.
	NoTimestamp bool
	// NoTlog leaves out the Rekor entry.
	NoTlog bool
	// Tamper changes the statement after it was signed and logged.
	Tamper bool
}

// Statement returns an in-toto statement for sha256 digest (hex) with the
// predicate type and predicate.
func Statement(digestHex, predicateType string, predicate any) []byte {
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "image", "digest": map[string]string{"sha256": digestHex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// SLSA returns an SLSA provenance v1 predicate with builder ID and build
// type.
func SLSA(builderID, buildType string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{"buildType": buildType, "externalParameters": map[string]any{"workflow": "release"}},
		"runDetails":      map[string]any{"builder": map[string]any{"id": builderID}},
	}
}

// Attest returns a bundle (JSON) of statement signed by id.
func (s *Sigstore) Attest(id Identity, statement []byte, o Options) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf, err := s.leaf(id, key, o)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: &key.PublicKey})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(context.Background(), "application/vnd.in-toto+json", statement)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	if o.Tamper {
		payload = bytes.Replace(payload, []byte(`"release"`), []byte(`"evil!!"`), 1)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}},
	}
	if !o.NoTlog {
		e, err := s.vs.GenerateTlogEntry(leaf, env, sig, time.Now().Unix(), true)
		if err != nil {
			return nil, err
		}
		tle := e.TransparencyLogEntry()
		// VirtualSigstore leaves the kind out.
		tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
		// ... and the signed entry timestamp (the inclusion promise), which
		// makes the integrated time a verified time.
		set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
			Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
			IntegratedTime: tle.IntegratedTime,
			LogIndex:       tle.LogIndex,
			LogID:          hex.EncodeToString(tle.LogId.KeyId),
		})
		if err != nil {
			return nil, err
		}
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	if !o.NoTimestamp {
		tsr, err := s.vs.TimestampResponse(sig)
		if err != nil {
			return nil, err
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	b := &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: env.PayloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	return protojson.Marshal(b)
}

// leaf makes a Fulcio-like signing certificate for id.
func (s *Sigstore) leaf(id Identity, key *ecdsa.PrivateKey, o Options) (*x509.Certificate, error) {
	nb := o.CertNotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	s.serial++
	t := &x509.Certificate{
		SerialNumber: big.NewInt(s.serial),
		NotBefore:    nb,
		NotAfter:     nb.Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if u, err := url.Parse(id.SAN); err == nil && u.Scheme != "" {
		t.URIs = []*url.URL{u}
	} else {
		t.EmailAddresses = []string{id.SAN}
	}
	add := func(oid asn1.ObjectIdentifier, v string) error {
		if v == "" {
			return nil
		}
		der, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			return err
		}
		t.ExtraExtensions = append(t.ExtraExtensions, pkixExt(oid, der))
		return nil
	}
	for _, e := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{
		{certificate.OIDIssuerV2, id.Issuer},
		{certificate.OIDSourceRepositoryURI, id.SourceRepository},
		{certificate.OIDSourceRepositoryRef, id.SourceRef},
		{certificate.OIDSourceRepositoryDigest, id.SourceDigest},
		{certificate.OIDBuildSignerURI, id.BuildSignerURI},
	} {
		if err := add(e.oid, e.v); err != nil {
			return nil, err
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, s.inter, &key.PublicKey, s.interKey)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// DigestHex returns the hex sha256 of b.
func DigestHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
