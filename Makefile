# hwattest: hardware-attested workload identity for SPIRE.
#
#   make demo   end-to-end attestation: a software TPM (or /dev/tpmrm0 when present),
#               real SPIRE server and agent with our plugins, a workload SVID
#   make test   install what the tests need (or say what is missing), build SPIRE
#               v1.13.3 and Kubernetes v1.33.1 once (cached), then go vet and every
#               test with the race detector: unit tests, fuzz seed corpora, and the
#               integration suite against real SPIRE, swtpm and PostgreSQL; then the
#               cluster tests (test-k8s)
#   make fuzz   run every fuzz target for FUZZTIME (default 60s) each
#   make bench  the verification benchmark against its crypto floor
#   make load   the load generator against a real SPIRE server on PostgreSQL
#               (LOAD_AGENTS, LOAD_RATE, LOAD_DURATION, LOAD_BASELINE,
#               LOAD_DB=postgres|sqlite, LOAD_AGENT_TTL, LOAD_SERVERS,
#               LOAD_REPORT; test/load/README.md)
#   make deps   install the system packages the tests need (Debian, as root)
#   make test-k8s  the cluster tests alone: a real single-node Kubernetes v1.33.1
#               built once from the module proxy (cached like SPIRE; a long cold
#               build)

SHELL    := /bin/bash
GO       ?= go
FUZZTIME ?= 60s
# A new input found while fuzzing is minimized for at most this long (Go's
# default, 60s, can take a whole FUZZTIME on targets with large seeds).
FUZZMINIMIZETIME ?= 10s

.PHONY: test vet unit fuzz bench load deps demo spire k8s test-k8s

# The cluster tests run after the others, not beside them: on two cores a
# cluster next to the race-detector suite would time both out.
test: deps vet unit test-k8s

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
# etcd into ~/.cache/hwattest on the first run only. Without it they skip (so
# they skip under `unit`, and run in test-k8s).
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
	./pkg/claims:FuzzDecode \
	./pkg/snpreport:FuzzVerify \
	./pkg/tdxquote:FuzzVerify \
	./pkg/policy:FuzzParse \
	./pkg/policy:FuzzParsePCR \
	./pkg/policy:FuzzIMAAllowlist \
	./nodeattestor/tpm:FuzzEKHashList \
	./cmd/hwattest/internal/cli:FuzzParsePCRs \
	./cmd/hwattest/internal/cli:FuzzParseSVID \
	./nodeattestor/tpm/server:FuzzConfig \
	./nodeattestor/tpm/agent:FuzzConfig \
	./nodeattestor/sevsnp/server:FuzzConfig \
	./nodeattestor/sevsnp/agent:FuzzConfig \
	./nodeattestor/tdx/server:FuzzConfig \
	./nodeattestor/tdx/agent:FuzzConfig \
	./nodeattestor/tdx:FuzzDecode \
	./workloadattestor/exe:FuzzConfig \
	./workloadattestor/container:FuzzConfig \
	./credentialcomposer/attestation:FuzzConfig \
	./workloadattestor/container/cgroups:FuzzParseCgroup \
	./workloadattestor/container/cgroups:FuzzParseMountinfo \
	./workloadattestor/container:FuzzDockerJSON \
	./workloadattestor/container:FuzzParseStartTime \
	./workloadattestor/container/provenance:FuzzParseReferrers \
	./workloadattestor/container/provenance:FuzzParseBundleLayers \
	./internal/isolate:FuzzParseEvent

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg || exit 1; \
	done

# The regression guard: BenchmarkVerify at most BENCH_MAX_RATIO times
# BenchmarkVerifyFloor (never an absolute time). The test binary is built once
# and run BENCH_ROUNDS times, each round running the three benchmarks back to
# back, so that a round's ratio compares runs seconds apart: on a shared
# machine another process's load then shifts both sides of a ratio alike.
# The guard is the median of the rounds' ratios (one noisy round neither
# fails nor passes it); every round's ratio is printed.
BENCH_MAX_RATIO ?= 2.5
BENCH_ROUNDS    ?= 5

bench:
	$(GO) test -c -o "$${TMPDIR:-/tmp}/hwattest-bench-tpmquote.test" ./pkg/tpmquote/
	set -o pipefail; cd pkg/tpmquote && for i in $$(seq $(BENCH_ROUNDS)); do \
		"$${TMPDIR:-/tmp}/hwattest-bench-tpmquote.test" -test.run='^$$' -test.bench='BenchmarkVerify' -test.benchmem -test.count=1 || exit 1; \
	done | awk -v max=$(BENCH_MAX_RATIO) '\
		{ print } \
		$$1 ~ /^BenchmarkVerify-/ { v = $$3 } $$1 ~ /^BenchmarkVerifyUnmemoised-/ { u = $$3 } \
		$$1 ~ /^BenchmarkVerifyFloor-/ { r[++n] = v / $$3; ru[n] = u / $$3 } \
		END { if (n == 0) { print "no benchmark rounds"; exit 1 } \
			for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j] < r[j - 1]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t } \
			for (i = 2; i <= n; i++) for (j = i; j > 1 && ru[j] < ru[j - 1]; j--) { t = ru[j]; ru[j] = ru[j - 1]; ru[j - 1] = t } \
			m = r[int((n + 1) / 2)]; \
			s = ""; for (i = 1; i <= n; i++) s = s sprintf(" %.2f", r[i]); \
			printf "verify/floor per round (sorted):%s; median %.2fx (limit %.1fx); unmemoised/floor median %.2fx\n", s, m, max, ru[int((n + 1) / 2)]; \
			if (m > max) { print "verification is more than " max "x its floor"; exit 1 } }'
	$(GO) test -run='^$$' -bench='BenchmarkVerify' -benchmem -count=5 ./pkg/snpreport/ ./pkg/tdxquote/
	$(GO) test -run='^$$' -bench='BenchmarkLevel3' -benchmem -count=5 -benchtime=20000x ./pkg/policy/

LOAD_AGENTS   ?= 1000
LOAD_RATE     ?= 33
LOAD_DURATION ?= 1m
LOAD_BASELINE ?= 200
LOAD_DB       ?= postgres
LOAD_SERVERS  ?= 1

load:
	HWATTEST_SPIRE_BIN="$$(./test/integration/spire-bin)" HWATTEST_LOAD=1 \
	LOAD_AGENTS=$(LOAD_AGENTS) LOAD_RATE=$(LOAD_RATE) LOAD_DURATION=$(LOAD_DURATION) \
	LOAD_BASELINE=$(LOAD_BASELINE) LOAD_DB=$(LOAD_DB) LOAD_AGENT_TTL=$(LOAD_AGENT_TTL) \
	LOAD_SERVERS=$(LOAD_SERVERS) LOAD_REPORT=$(LOAD_REPORT) \
	$(GO) test -count=1 -run '^TestLoad$$' -v -timeout 6h ./test/load/

deps:
	@./.ci/deps
