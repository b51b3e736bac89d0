package claims_test

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/pkg/claims"
)

// A server that admits only clients whose SVID shows one image, on a node
// at policy level3 that attested less than ten minutes ago.
func ExampleAuthorize() {
	client := spiffeid.RequireFromString("spiffe://example.org/web")
	authorize := claims.Authorize(tlsconfig.AuthorizeID(client),
		claims.RequireStatus(ear.TrustTierAffirming),
		claims.RequireImageDigest("sha256:aaaa"),
		claims.RequireNodePolicy("level3"),
		claims.RequireNodeAttestedWithin(10*time.Minute))
	// tlsconfig.MTLSServerConfig(source, source, authorize)
	_ = authorize
}

// The claims of a JWT-SVID's claims set, printed as JSON.
func ExampleFromJWTClaims() {
	// What a composer wrote (here: the test claims, issued at a fixed time).
	v, err := sample().JWTClaimValue()
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{"sub": "spiffe://example.org/wl", claims.JWTClaim: v})
	var m map[string]any
	_ = json.Unmarshal(b, &m)

	c, err := claims.FromJWTClaims(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(c)
	// Output:
	// {
	//   "issued_at": "2026-12-07T06:00:00Z",
	//   "verifier": "hwattest test",
	//   "node": {
	//     "status": "affirming",
	//     "trust_vector": {
	//       "instance-identity": 2,
	//       "configuration": 2,
	//       "hardware": 2
	//     },
	//     "selectors": [
	//       "tpm:ek_issuer:CN=x",
	//       "tpm:policy:level3",
	//       "tpm:secureboot:enabled"
	//     ],
	//     "agent_id": "spiffe://example.org/spire/agent/tpm/abc",
	//     "attested_at": "2026-12-07T05:59:00Z"
	//   },
	//   "workload": {
	//     "status": "affirming",
	//     "trust_vector": {
	//       "executables": 2,
	//       "file-system": 2
	//     },
	//     "selectors": [
	//       "container:image_digest:sha256:aaaa",
	//       "unix:uid:0"
	//     ]
	//   }
	// }
}
