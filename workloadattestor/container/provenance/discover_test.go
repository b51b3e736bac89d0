package provenance_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// TestTooManyReferrers: an index of more than MaxReferrers referrers is
// refused whole, with the reason.
func TestTooManyReferrers(t *testing.T) {
	w := newWorld(t, true)
	good := w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{})
	w.attach(t, good)
	for i := 0; i < provenance.MaxReferrers; i++ {
		if _, err := provenancetest.Attach(w.repo, w.subject, []byte(fmt.Sprintf(`{"n":%d}`, i)), "application/vnd.example+json"); err != nil {
			t.Fatal(err)
		}
	}
	r := w.check(t, w.policy(t, nil), "")
	if len(r.Bundles) != 1 || len(r.Satisfied) != 0 {
		t.Fatalf("bundles %+v", r.Bundles)
	}
	want := "too many referrers: 65, at most 64 are read"
	if got := fmt.Sprint(r.Bundles[0].Err); got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}

// TestTooLargeBundle: a bundle layer larger than MaxBundleSize is not
// fetched; another, good bundle of the same image still counts.
func TestTooLargeBundle(t *testing.T) {
	w := newWorld(t, false)
	big := make([]byte, provenance.MaxBundleSize+1)
	bigRef := w.attach(t, big)
	w.attach(t, w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{}))
	r := w.check(t, w.policy(t, nil), "")
	if strings.Join(r.Satisfied, ",") != "ci" || len(r.Bundles) != 2 {
		t.Fatalf("satisfied %q, bundles %+v", r.Satisfied, r.Bundles)
	}
	var found bool
	for _, b := range r.Bundles {
		if strings.Contains(b.Origin, bigRef) {
			found = true
			want := fmt.Sprintf("manifest: layer 0: sha256:%s: size 1048577 is not in 1..1048576", provenancetest.DigestHex(big))
			if got := fmt.Sprint(b.Err); got != want {
				t.Errorf("error %q, want %q", got, want)
			}
		}
	}
	if !found {
		t.Fatalf("no result for the large bundle's referrer %s: %+v", bigRef, r.Bundles)
	}
}

// TestUnavailable: a registry that is down or slower than the time budget
// makes the result unavailable: no policy, provenance_status:unavailable;
// cached only for the failure TTL.
func TestUnavailable(t *testing.T) {
	w := newWorld(t, true)
	w.attach(t, w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{}))
	ps := w.policy(t, nil)

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	down := httptest.NewServer(http.NotFoundHandler())
	downHost := strings.TrimPrefix(down.URL, "http://")
	down.Close()

	for _, tc := range []struct{ name, host, want string }{
		{"slow", strings.TrimPrefix(slow.URL, "http://"), "registry unavailable: no answer within the time budget: ..."},
		{"down", downHost, "registry unavailable: Get \"https://" + downHost + "/v2/\": dial tcp " + downHost + ": connect: connection refused; Get \"http://" + downHost + "/v2/\": dial tcp " + downHost + ": connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1e9, 0)
			c := provenance.NewChecker(ps, "", provenance.NewRegistry(nil), 0, func() time.Time { return now })
			c.Timeout = 200 * time.Millisecond
			r, _ := c.Check(context.Background(), tc.host+"/app", w.digest)
			if !errors.Is(r.Unavailable, provenance.ErrUnavailable) || !matches(r.Unavailable.Error(), tc.want) {
				t.Fatalf("unavailable %v, want %s", r.Unavailable, tc.want)
			}
			if got := strings.Join(r.Selectors(), ","); got != "provenance_status:unavailable" {
				t.Fatalf("selectors %q", got)
			}
			if _, cached := c.Check(context.Background(), tc.host+"/app", w.digest); !cached {
				t.Fatal("failure not cached")
			}
			now = now.Add(provenance.DefaultFailureTTL)
			if _, cached := c.Check(context.Background(), tc.host+"/app", w.digest); cached {
				t.Fatal("failure cached beyond the failure TTL")
			}
		})
	}
}

// TestBundleDir: bundles from the operator's directory work with no
// registry; another digest's directory does not count.
func TestBundleDir(t *testing.T) {
	w := newWorld(t, true)
	dir := t.TempDir()
	sub := filepath.Join(dir, "sha256-"+w.hex())
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "slsa.sigstore.json"), w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "junk.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := provenance.NewChecker(w.policy(t, nil), provenance.Dir(dir), nil, 0, nil)
	r, _ := c.Check(context.Background(), "", w.digest)
	if strings.Join(r.Satisfied, ",") != "ci" || r.Unavailable != nil {
		t.Fatalf("result %+v %+v", r, r.Bundles)
	}
	if got := fmt.Sprint(r.Bundles[0].Err); !strings.HasPrefix(got, "not a sigstore bundle: ") {
		t.Errorf("junk.json: %q", got)
	}
	r, _ = c.Check(context.Background(), "", "sha256:"+strings.Repeat("0", 64))
	if len(r.Satisfied) != 0 || len(r.Bundles) != 0 {
		t.Fatalf("another digest: %+v", r)
	}
}

// TestSingleFlight: concurrent checks of one image ask the registry once;
// later ones are answered from the cache.
func TestSingleFlight(t *testing.T) {
	w := newWorld(t, true)
	w.attach(t, w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{}))
	src := &countingSource{inner: provenance.NewRegistry(nil), gate: make(chan struct{})}
	c := provenance.NewChecker(w.policy(t, nil), "", src, 0, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, _ := c.Check(context.Background(), w.repo.Name(), w.digest); len(r.Satisfied) != 1 {
				t.Errorf("satisfied %q", r.Satisfied)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(src.gate)
	wg.Wait()
	if _, cached := c.Check(context.Background(), w.repo.Name(), w.digest); !cached {
		t.Error("not cached")
	}
	if n := src.n.Load(); n != 1 {
		t.Fatalf("%d registry lookups, want 1", n)
	}
}

type countingSource struct {
	inner provenance.Source
	gate  chan struct{}
	n     atomic.Int32
}

func (s *countingSource) Bundles(ctx context.Context, repo, digest string) ([]provenance.Candidate, error) {
	s.n.Add(1)
	<-s.gate
	return s.inner.Bundles(ctx, repo, digest)
}
