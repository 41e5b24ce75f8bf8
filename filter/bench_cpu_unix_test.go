//go:build unix

package filter

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: a
// busy machine stretches the wall time of a run, hardly its CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
