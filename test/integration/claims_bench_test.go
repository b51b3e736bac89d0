package integration_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"

	"github.com/hwattest/hwattest/internal/spireapi"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/claims"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestClaimsComposerThroughput measures how many X509-SVIDs a real SPIRE
// server mints per second with the attestation composer (cache warm, default
// refresh) and without it, in the same run: two servers side by side, one
// with the composer and one without, the same registration entry (under an
// attested tpm agent) on both, 4 concurrent callers of SPIRE's MintX509SVID
// API, 6 alternating rounds of 400 SVIDs each so that the machine's noise
// falls on both alike. It reports the throughput ratio (the target is at
// least 0.9) and the composer's added time per SVID; it asserts nothing
// about time.
//
//	HWATTEST_BENCH=1 go test -run TestClaimsComposerThroughput -v ./test/integration/
func TestClaimsComposerThroughput(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to measure")
	}
	n := newNode(t, swtpmtest.Options{})
	dir := harness.Dir(t)
	socket := filepath.Join(dir, "api.sock")
	with := harness.StartServer(t, harness.ServerConfig{Dir: dir, NodeAttestor: n.caConfig(),
		ExtraPlugins: composerBlockWith(t, socket, "")})
	without := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig()})
	harness.StartAgent(t, harness.AgentConfig{Server: with, NodeAttestor: n.agentConfig()})
	id := "spiffe://" + harness.TrustDomain + "/bench-workload"
	for _, s := range []*harness.Server{with, without} {
		s.CreateEntry(t, n.agentID(), id, "unix:uid:0", "exe:sha256:"+fmt.Sprintf("%064x", 1))
	}
	// Warm up both, and check that one has claims and the other none.
	if c, err := claims.FromCertificate(mustMintX509(t, with.Socket, id)); err != nil || !c.Node.HasSelector("tpm:pub_hash:"+n.ekHash) {
		t.Fatalf("with the composer: %v %+v", err, c)
	}
	if _, err := claims.FromCertificate(mustMintX509(t, without.Socket, id)); err == nil {
		t.Fatal("claims without the composer")
	}

	const (
		rounds  = 6
		perRun  = 400
		callers = 4
	)
	csr := benchCSR(t, id)
	var rateWith, rateWithout []float64
	for r := 0; r < rounds; r++ {
		rateWithout = append(rateWithout, mintRate(t, without.Socket, csr, perRun, callers))
		rateWith = append(rateWith, mintRate(t, with.Socket, csr, perRun, callers))
	}
	slices.Sort(rateWith)
	slices.Sort(rateWithout)
	mw, mo := median(rateWith), median(rateWithout)
	t.Logf("X509-SVIDs minted per second, %d rounds of %d with %d callers: with the composer median %.0f (%.0f-%.0f), without %.0f (%.0f-%.0f); ratio %.3f; per SVID %.0f µs with, %.0f µs without (+%.0f µs, +%.1f%%)",
		rounds, perRun, callers, mw, rateWith[0], rateWith[rounds-1], mo, rateWithout[0], rateWithout[rounds-1], mw/mo,
		1e6/mw, 1e6/mo, 1e6/mw-1e6/mo, 100*(mo/mw-1))
}

func median(v []float64) float64 { return (v[(len(v)-1)/2] + v[len(v)/2]) / 2 }

func benchCSR(t *testing.T, spiffeID string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(spiffeID)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{u}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// mintRate mints n X509-SVIDs with callers concurrent callers and returns
// SVIDs per second.
func mintRate(t *testing.T, socket string, csr []byte, n, callers int) float64 {
	t.Helper()
	c, err := spireapi.Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := svidv1.NewSVIDClient(c.Conn())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := cl.MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: csr}); err != nil { // connect
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := cl.MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: csr}); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		t.Fatal(ferr)
	}
	return float64(n) / time.Since(start).Seconds()
}
