// Package repocheck holds tests of the repository itself rather than of a
// package: that every fuzz target runs under `make fuzz`, and that the HCL
// samples in docs/ use only keys the plugins know, and that no committed
// test certificate expires within ten years.
package repocheck
