# hwattest: hardware-attested workload identity for SPIRE.
#
#   make test   install what the tests need (or say what is missing), then go vet and
#               every test with the race detector (fuzz seed corpora included)
#   make fuzz   run every fuzz target for FUZZTIME (default 60s) each
#   make bench  the verification benchmark against its crypto floor
#   make deps   install the system packages the tests need (Debian, as root)

GO       ?= go
FUZZTIME ?= 60s

.PHONY: test vet unit fuzz bench deps

test: deps vet unit

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Each fuzz target on its own (go test -fuzz takes one target per package).
FUZZ_TARGETS = \
	./pkg/tpmquote:FuzzDecodeAttestation \
	./pkg/tpmquote:FuzzDecodeChallenge \
	./pkg/tpmquote:FuzzDecodeResponse \
	./pkg/tpmquote:FuzzVerifyEK \
	./pkg/tpmquote:FuzzVerifyAK \
	./pkg/tpmquote:FuzzEventLog \
	./pkg/tpmquote:FuzzQuote \
	./pkg/tpmquote/ima:FuzzParse \
	./workloadattestor/container/cgroups:FuzzParseCgroup \
	./workloadattestor/container/cgroups:FuzzParseMountinfo

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	$(GO) test -run='^$$' -bench='BenchmarkVerify' -benchmem -count=5 ./pkg/tpmquote/

deps:
	@./.ci/deps
