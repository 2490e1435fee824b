// SPDX-License-Identifier: BSD-2-Clause

package procs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stat is the part of /proc/<pid>/stat the tester uses.
type Stat struct {
	Pid   int
	Comm  string // executable name, at most 15 bytes, as the kernel keeps it
	State byte   // R, S, D, T, t, Z, X, ...
	PPid  int
}

// ParseStat parses the text of /proc/<pid>/stat. The command name sits in
// parentheses and may itself contain spaces and parentheses, so it runs to
// the last ')'.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	lp := bytes.IndexByte(b, '(')
	rp := bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp {
		return st, fmt.Errorf("no (comm) in stat")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:lp])))
	if err != nil {
		return st, fmt.Errorf("bad pid: %v", err)
	}
	st.Pid = pid
	st.Comm = string(b[lp+1 : rp])
	rest := strings.Fields(string(b[rp+1:]))
	if len(rest) < 2 || len(rest[0]) != 1 {
		return st, fmt.Errorf("no state after comm")
	}
	st.State = rest[0][0]
	if st.PPid, err = strconv.Atoi(rest[1]); err != nil {
		return st, fmt.Errorf("bad ppid: %v", err)
	}
	return st, nil
}

// Pids lists the numeric entries of the /proc root, sorted.
func (fs FS) Pids() ([]int, error) {
	ents, err := os.ReadDir(fs.Root)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// Stat reads /proc/<pid>/stat.
func (fs FS) Stat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(fs.Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// Cmdline returns /proc/<pid>/cmdline with NUL separators turned into
// spaces; "" for a zombie or a kernel thread.
func (fs FS) Cmdline(pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join(fs.Root, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return "", err
	}
	b = bytes.TrimRight(b, "\x00")
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), nil
}

// Gone reports whether pid no longer runs: no /proc entry, or a zombie
// (Z) or dead (X) state.
func (fs FS) Gone(pid int) bool {
	st, err := fs.Stat(pid)
	if err != nil {
		return true
	}
	return st.State == 'Z' || st.State == 'X'
}

// Stopped reports whether pid is stopped by a signal (state T).
func (fs FS) Stopped(pid int) bool {
	st, err := fs.Stat(pid)
	return err == nil && st.State == 'T'
}

// Zombies returns the zombie processes whose command name or command line
// contains substr. A zombie has an empty command line, so the name from
// stat (cut to 15 bytes by the kernel) is what usually matches.
func (fs FS) Zombies(substr string) ([]Stat, error) {
	pids, err := fs.Pids()
	if err != nil {
		return nil, err
	}
	var out []Stat
	for _, pid := range pids {
		st, err := fs.Stat(pid)
		if err != nil || st.State != 'Z' {
			continue
		}
		cmd, _ := fs.Cmdline(pid)
		if strings.Contains(st.Comm, substr) || strings.Contains(cmd, substr) {
			out = append(out, st)
		}
	}
	return out, nil
}
