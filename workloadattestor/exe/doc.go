// Package exe is the SPIRE agent workload attestor "exe": it measures the
// executable a process is running.
//
// For a PID it opens the file behind /proc/PID/exe through the process's own
// root (/proc/PID/root), so that a containerised process's executable is
// found in its container, and returns
//
//	sha256:<hex>   the SHA-256 of the file's contents
//	path:<path>    the executable's path as the process sees it
//	ima:measured   the node's IMA log, which replays to PCR 10 as read
//	               from the node's TPM, holds an entry of this path (as
//	               /proc/PID/exe names it to the agent) with this hash
//	               (only with ima_log_path configured)
//
// # What is measured
//
// The file hashed is the one the plugin opened, and it is checked to be the
// file the process runs: the open file's device and inode must equal those
// of /proc/PID/exe (which the kernel resolves to the running file even after
// it was deleted or renamed). An executable deleted or replaced since the
// process started (the link ends in " (deleted)", the file has no links
// left, or the path now names another file) is an error, never a stale
// hash. After hashing, the open file must still have the same size, mtime
// and ctime, and /proc/PID/exe the same inode.
//
// An executable on FUSE or a network file system is refused: there another
// party (the FUSE server, which learns the PID of every reader; the file
// server) serves the bytes, and those the agent reads need not be those the
// kernel executes.
//
// Hashes are cached by (device, inode, size, mtime, ctime) of the opened
// file in a bounded LRU: an unchanged file is hashed once, however many
// processes run it; concurrent requests for the same file share one read.
//
// # Errors
//
// A PID that does not exist (the process exited) is an error (NotFound):
// the agent cannot say anything true about a process that is gone, and
// every live process has an executable, so "not mine, no selectors" does
// not apply (SPIRE's unix attestor fails too, with Internal). A process without an executable
// (kernel thread, zombie) is FailedPrecondition, as is a deleted, replaced
// or changing executable, or one on FUSE or a network file system; one larger than max_hash_size is
// ResourceExhausted; local I/O faults (the agent lacks the privilege to
// read another user's /proc/PID/exe) are Internal.
//
// The plugin runs on Linux only; elsewhere Attest returns Unimplemented.
package exe
