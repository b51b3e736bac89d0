module github.com/hwattest/hwattest

go 1.26.0

require (
	github.com/google/go-attestation v0.6.4
	github.com/google/go-tpm v0.9.8
	github.com/google/go-tpm-tools v0.4.10
	github.com/spiffe/go-spiffe/v2 v2.6.0
)

require golang.org/x/sys v0.45.0 // indirect
