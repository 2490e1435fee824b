// SPDX-License-Identifier: BSD-2-Clause

package checks

import (
	"fmt"
	"syscall"
)

// sendSignal delivers sig to pid.
func sendSignal(pid int, sig Signal) error {
	if pid <= 1 {
		return fmt.Errorf("refusing to signal pid %d", pid)
	}
	var s syscall.Signal
	switch sig {
	case SigKill:
		s = syscall.SIGKILL
	case SigStop:
		s = syscall.SIGSTOP
	case SigCont:
		s = syscall.SIGCONT
	default:
		return fmt.Errorf("unknown signal %d", sig)
	}
	if err := syscall.Kill(pid, s); err != nil {
		return fmt.Errorf("signal %v to pid %d: %v", s, pid, err)
	}
	return nil
}
