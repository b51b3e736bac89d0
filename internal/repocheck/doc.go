// Package repocheck holds tests of the repository itself rather than of a
// package: that every fuzz target runs under `make fuzz`.
package repocheck
