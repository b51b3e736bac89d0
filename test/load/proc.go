package load

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procStat is one /proc/PID/stat: parent and CPU time (user + system).
type procStat struct {
	ppid int
	cpu  time.Duration
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) may hold spaces: fields follow its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return procStat{}, false
	}
	// After ')': state(3) ppid(4) ... utime(14) stime(15).
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{ppid: ppid, cpu: time.Duration(ut+st) * time.Second / clockTicks}, true
}

// CPU returns the CPU time of pid alone and of its descendants (every
// live process below it), from /proc.
func CPU(pid int) (self, children time.Duration) {
	stats := map[int]procStat{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(p); ok {
			stats[p] = st
		}
	}
	st, ok := stats[pid]
	if !ok {
		return 0, 0
	}
	self = st.cpu
	for p, s := range stats {
		for q, hops := s.ppid, 0; q > 1 && hops < 16; q, hops = stats[q].ppid, hops+1 {
			if q == pid && p != pid {
				children += s.cpu
				break
			}
		}
	}
	return self, children
}
