package claims

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

// maxTokenSize bounds the bearer token the middleware parses.
const maxTokenSize = 64 << 10

type contextKey struct{}

// FromContext returns the claims Middleware admitted the request with.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(*Claims)
	return c, ok
}

// Middleware admits an HTTP request only when it carries a JWT-SVID
// ("Authorization: Bearer <token>") that validates against bundles for one
// of audience, whose SPIFFE ID match accepts (spiffeid.MatchID,
// spiffeid.MatchMemberOf, ...; nil refuses every ID), and
// whose claims meet every requirement. Otherwise it answers 401 (no or
// invalid token) or 403 (identity or claims refused) with the reason. The
// handler finds the claims with FromContext.
func Middleware(next http.Handler, bundles jwtbundle.Source, audience []string, match spiffeid.Matcher, reqs ...Requirement) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			http.Error(w, "claims: no bearer JWT-SVID", http.StatusUnauthorized)
			return
		}
		if len(token) > maxTokenSize {
			http.Error(w, "claims: bearer token too large", http.StatusUnauthorized)
			return
		}
		svid, err := jwtsvid.ParseAndValidate(token, bundles, audience)
		if err != nil {
			http.Error(w, "claims: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if match == nil {
			http.Error(w, "claims: no identity matcher", http.StatusForbidden)
			return
		}
		if err := match(svid.ID); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		c, err := FromJWTSVID(svid)
		if err == nil {
			err = Check(c, time.Now(), reqs...)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, c)))
	})
}
