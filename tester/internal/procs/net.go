// SPDX-License-Identifier: BSD-2-Clause

// Package procs reads what the tester needs from a Linux /proc tree: the
// listening TCP sockets, which process owns a socket, a process's state and
// command line, and zombie processes.
//
// Every reader takes the /proc root as a parameter (FS.Root), so tests run
// the parsers on fixture trees built in a temporary directory.
package procs

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StateListen is the kernel's TCP_LISTEN state as printed in /proc/net/tcp.
const StateListen = 0x0A

// Socket is one row of /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	IP    net.IP
	Port  int
	State int
	Inode uint64
}

// Local reports whether the socket can be reached on a loopback address:
// bound to loopback or to the unspecified address.
func (s Socket) Local() bool {
	return s.IP.IsLoopback() || s.IP.IsUnspecified()
}

// FS is a /proc tree.
type FS struct {
	Root string // normally "/proc"
}

// Default is the running system's /proc.
var Default = FS{Root: "/proc"}

// ParseNetTCP parses the text of /proc/net/tcp or /proc/net/tcp6 (the
// address width tells them apart). The header line is skipped; a malformed
// row is an error.
func ParseNetTCP(r io.Reader) ([]Socket, error) {
	var out []Socket
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "sl" {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, expected at least 10", line, len(f))
		}
		ip, port, err := parseAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: local address %q: %v", line, f[1], err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %v", line, f[3], err)
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode %q: %v", line, f[9], err)
		}
		out = append(out, Socket{IP: ip, Port: port, State: int(st), Inode: ino})
	}
	return out, sc.Err()
}

// parseAddr decodes "0100007F:1F90": the address is a sequence of 32-bit
// words each printed in host (little-endian) byte order, the port is
// big-endian hex.
func parseAddr(s string) (net.IP, int, error) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return nil, 0, fmt.Errorf("no port")
	}
	raw, err := hex.DecodeString(s[:i])
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address")
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	port, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("bad port")
	}
	if len(ip) == 4 {
		ip = net.IPv4(ip[0], ip[1], ip[2], ip[3])
	}
	return ip, int(port), nil
}

// ListeningLocal returns the listening TCP sockets (IPv4 and IPv6) reachable
// on loopback. A missing tcp6 table is not an error.
func (fs FS) ListeningLocal() ([]Socket, error) {
	var out []Socket
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(fs.Root, "net", name))
		if err != nil {
			if name == "tcp6" && os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		socks, err := ParseNetTCP(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Name(), err)
		}
		for _, s := range socks {
			if s.State == StateListen && s.Local() {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// SocketOwners maps each wanted socket inode to the pids whose file
// descriptors refer to it ("socket:[inode]" links under /proc/<pid>/fd).
// Processes that vanish or whose fd directory cannot be read are skipped.
func (fs FS) SocketOwners(want map[uint64]bool) (map[uint64][]int, error) {
	pids, err := fs.Pids()
	if err != nil {
		return nil, err
	}
	out := make(map[uint64][]int)
	for _, pid := range pids {
		dir := filepath.Join(fs.Root, strconv.Itoa(pid), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			ino, ok := socketInode(link)
			if ok && want[ino] {
				out[ino] = appendUnique(out[ino], pid)
			}
		}
	}
	return out, nil
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// socketInode parses "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	if !strings.HasPrefix(link, "socket:[") || !strings.HasSuffix(link, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(link[len("socket:["):len(link)-1], 10, 64)
	return n, err == nil
}
