// Package harness runs real SPIRE deployments for hwattest's integration
// tests: spire-server and spire-agent processes (the binaries test/integration/
// spire-bin builds and caches) configured with our plugins through
// plugin_cmd and plugin_checksum, a PostgreSQL server for shared datastores,
// and a TCP proxy standing in for a load balancer. Every process gets its own
// directory and ports, is stopped at test cleanup, and has its log printed
// when the test fails. Missing prerequisites fail the test when CI=true and
// skip it otherwise.
package harness
