# hwattest: hardware-attested workload identity for SPIRE.
#
#   make demo   end-to-end attestation: a software TPM (or /dev/tpmrm0 when present),
#               real SPIRE server and agent with our plugins, a workload SVID
#   make test   install what the tests need (or say what is missing), build SPIRE
#               v1.13.3 once (cached), then go vet and every test with the race
#               detector: unit tests, fuzz seed corpora, and the integration suite
#               against real SPIRE, swtpm and PostgreSQL
#   make fuzz   run every fuzz target for FUZZTIME (default 60s) each
#   make bench  the verification benchmark against its crypto floor
#   make deps   install the system packages the tests need (Debian, as root)
#   make test-k8s  the cluster tests: a real single-node Kubernetes v1.33.1 built
#               once from the module proxy (cached like SPIRE; a long cold build),
#               not yet part of make test

GO       ?= go
FUZZTIME ?= 60s
# A new input found while fuzzing is minimized for at most this long (Go's
# default, 60s, can take a whole FUZZTIME on targets with large seeds).
FUZZMINIMIZETIME ?= 10s

.PHONY: test vet unit fuzz bench deps demo spire k8s test-k8s

test: deps vet unit

vet:
	$(GO) vet ./...

# The integration tests find SPIRE through HWATTEST_SPIRE_BIN; spire-bin builds
# it into ~/.cache/hwattest on the first run only.
unit:
	HWATTEST_SPIRE_BIN="$$(./test/integration/spire-bin)" $(GO) test -race -count=1 -timeout 20m ./...

spire:
	@./test/integration/spire-bin

# The cluster tests find Kubernetes through HWATTEST_K8S_BIN; k8s-bin builds
# kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kubectl and
# etcd into ~/.cache/hwattest on the first run only. Without it they skip.
k8s:
	@./test/kubernetes/k8s-bin

test-k8s: deps
	HWATTEST_K8S_BIN="$$(./test/kubernetes/k8s-bin)" HWATTEST_SPIRE_BIN="$$(./test/integration/spire-bin)" \
		$(GO) test -count=1 -timeout 30m -v ./test/kubernetes/...

demo: deps
	@./examples/quickstart/run.sh

# Each fuzz target on its own (go test -fuzz takes one target per package).
FUZZ_TARGETS = \
	./pkg/tpmquote:FuzzDecodeAttestation \
	./pkg/tpmquote:FuzzDecodeChallenge \
	./pkg/tpmquote:FuzzDecodeResponse \
	./pkg/tpmquote:FuzzVerifyEK \
	./pkg/tpmquote:FuzzVerifyAK \
	./pkg/tpmquote:FuzzEventLog \
	./pkg/tpmquote:FuzzEventLogMutations \
	./pkg/tpmquote:FuzzQuote \
	./pkg/tpmquote/ima:FuzzParse \
	./pkg/evidence:FuzzDecode \
	./pkg/policy:FuzzParse \
	./pkg/policy:FuzzParsePCR \
	./pkg/policy:FuzzIMAAllowlist \
	./nodeattestor/tpm:FuzzEKHashList \
	./cmd/hwattest/internal/cli:FuzzParsePCRs \
	./nodeattestor/tpm/server:FuzzConfig \
	./nodeattestor/tpm/agent:FuzzConfig \
	./workloadattestor/exe:FuzzConfig \
	./workloadattestor/container:FuzzConfig \
	./workloadattestor/container/cgroups:FuzzParseCgroup \
	./workloadattestor/container/cgroups:FuzzParseMountinfo \
	./workloadattestor/container:FuzzDockerJSON \
	./workloadattestor/container:FuzzParseStartTime \
	./workloadattestor/container/provenance:FuzzParseReferrers \
	./workloadattestor/container/provenance:FuzzParseBundleLayers

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg || exit 1; \
	done

bench:
	$(GO) test -run='^$$' -bench='BenchmarkVerify' -benchmem -count=5 ./pkg/tpmquote/
	$(GO) test -run='^$$' -bench='BenchmarkLevel3' -benchmem -count=5 -benchtime=20000x ./pkg/policy/

deps:
	@./.ci/deps
