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
	"os/exec"
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
// refresh), with a composer that changes nothing (./noopcomposer: what any
// external composer costs SPIRE), and with none, in the same run: three
// servers side by side, the same registration entry (under an attested tpm
// agent) on each, 4 concurrent callers of SPIRE's MintX509SVID API, 8
// rounds of 300 SVIDs each, in rotating order, so that the machine's noise
// falls on all alike. It reports the throughput ratios and the time each adds per
// SVID; it asserts nothing about time.
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
	noop := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig(), ExtraPlugins: noopComposerBlock(t)})
	harness.StartAgent(t, harness.AgentConfig{Server: with, NodeAttestor: n.agentConfig()})
	id := "spiffe://" + harness.TrustDomain + "/bench-workload"
	for _, s := range []*harness.Server{with, without, noop} {
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
		rounds  = 8
		perRun  = 300
		callers = 4
	)
	csr := benchCSR(t, id)
	var rateWith, rateWithout, rateNoop []float64
	runs := []struct {
		socket string
		rates  *[]float64
	}{{without.Socket, &rateWithout}, {noop.Socket, &rateNoop}, {with.Socket, &rateWith}}
	for r := 0; r < rounds; r++ {
		// Each round starts with another server, so that none is always
		// measured first or last.
		for i := range runs {
			run := runs[(r+i)%len(runs)]
			*run.rates = append(*run.rates, mintRate(t, run.socket, csr, perRun, callers))
		}
	}
	for _, v := range [][]float64{rateWith, rateWithout, rateNoop} {
		slices.Sort(v)
	}
	mw, mo, mn := median(rateWith), median(rateWithout), median(rateNoop)
	t.Logf("X509-SVIDs minted per second, %d rounds of %d with %d callers (medians, min-max): attestation composer %.0f (%.0f-%.0f), no-op composer %.0f (%.0f-%.0f), none %.0f (%.0f-%.0f)",
		rounds, perRun, callers, mw, rateWith[0], rateWith[rounds-1], mn, rateNoop[0], rateNoop[rounds-1], mo, rateWithout[0], rateWithout[rounds-1])
	t.Logf("throughput ratios: attestation/none %.3f, no-op/none %.3f, attestation/no-op %.3f", mw/mo, mn/mo, mw/mn)
	t.Logf("per SVID: none %.0f µs; a composer's round trip +%.0f µs; the attestation composer's own work +%.0f µs",
		1e6/mo, 1e6/mn-1e6/mo, 1e6/mw-1e6/mn)
}

// noopComposerBlock builds ./noopcomposer and returns its plugin block.
func noopComposerBlock(t *testing.T) string {
	t.Helper()
	dir := harness.Dir(t)
	bin := filepath.Join(dir, "noopcomposer")
	if out, err := exec.Command("go", "build", "-o", bin, "./noopcomposer").CombinedOutput(); err != nil {
		t.Fatalf("go build ./noopcomposer: %v\n%s", err, out)
	}
	return fmt.Sprintf("  CredentialComposer \"noop\" {\n    plugin_cmd = %q\n  }\n", bin)
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
