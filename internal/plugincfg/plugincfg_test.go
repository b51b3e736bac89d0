package plugincfg_test

import (
	"context"
	"errors"
	"testing"

	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/plugincfg"
)

type conf struct{ hcl, td string }

// TestHolder: nothing is in force before Configure; a configuration that
// does not build is refused with InvalidArgument and the previous one stays;
// Validate builds without configure and changes nothing.
func TestHolder(t *testing.T) {
	var h plugincfg.Holder[conf]
	var sawConfigure []bool
	h.Build = func(hcl, td string, configure bool) (*conf, error) {
		sawConfigure = append(sawConfigure, configure)
		if hcl == "bad" {
			return nil, errors.Join(errors.New("first problem"), errors.New("second problem"))
		}
		return &conf{hcl, td}, nil
	}
	var loaded []string
	h.Loaded = func(c *conf) { loaded = append(loaded, c.hcl) }
	ctx := context.Background()

	if _, err := h.Current(); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("before Configure: %v", err)
	}
	req := func(hcl string) *configv1.ConfigureRequest {
		return &configv1.ConfigureRequest{HclConfiguration: hcl, CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"}}
	}
	if _, err := h.Configure(ctx, req("good")); err != nil {
		t.Fatal(err)
	}
	_, err := h.Configure(ctx, req("bad"))
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "invalid configuration: first problem\nsecond problem" {
		t.Fatalf("bad configuration: %v", err)
	}
	if c, err := h.Current(); err != nil || *c != (conf{"good", "example.org"}) {
		t.Fatalf("after a refused configuration: %+v, %v", c, err)
	}
	v, _ := h.Validate(ctx, &configv1.ValidateRequest{HclConfiguration: "bad"})
	if v.Valid || len(v.Notes) != 1 {
		t.Errorf("Validate(bad) = %+v", v)
	}
	v, _ = h.Validate(ctx, &configv1.ValidateRequest{HclConfiguration: "other"})
	if !v.Valid {
		t.Errorf("Validate(other) = %+v", v)
	}
	if c, _ := h.Current(); c.hcl != "good" {
		t.Errorf("Validate changed the configuration in force: %+v", c)
	}
	if want := []bool{true, true, false, false}; len(sawConfigure) != len(want) || sawConfigure[2] || !sawConfigure[0] {
		t.Errorf("configure flags %v, want %v", sawConfigure, want)
	}
	if len(loaded) != 1 || loaded[0] != "good" {
		t.Errorf("Loaded called with %v", loaded)
	}
}
