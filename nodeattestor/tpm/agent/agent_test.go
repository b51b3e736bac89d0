package agent_test

import (
	"context"
	"strings"
	"testing"

	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/nodeattestor/tpm/agent"
)

func TestConfigErrorsTogether(t *testing.T) {
	p := agent.New()
	text := `tpm = "/dev/tpmrm0"
ek_algorithm = "dsa"
ak_algorithm = "ed25519"
pcr_banks = ["sha256", "md5"]
colour = "blue"`
	_, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: text})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`unknown configuration key "colour"`, `ek_algorithm "dsa": want rsa or ecc`, `ak_algorithm "ed25519": want rsa or ecc`, `pcr_banks: tpmquote: unknown hash algorithm "md5"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	v, err := p.Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: text})
	if err != nil || v.Valid || len(v.Notes) != 1 {
		t.Errorf("Validate = %v, %v", v, err)
	}
	v, err = p.Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: `tpm = "swtpm://127.0.0.1:2321"`})
	if err != nil || !v.Valid {
		t.Errorf("Validate = %v, %v", v, err)
	}
}

func TestNotConfigured(t *testing.T) {
	if err := agent.New().AidAttestation(nil); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("err = %v", err)
	}
}
