// SPDX-License-Identifier: BSD-2-Clause

package procs

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 00000000:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0F02000A:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 100 0 0 10 0
`

const netTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:4E21 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:4E22 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:4E23 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0
`

func TestParseNetTCP(t *testing.T) {
	socks, err := ParseNetTCP(strings.NewReader(netTCP))
	if err != nil {
		t.Fatal(err)
	}
	want := []Socket{
		{IP: net.IPv4(127, 0, 0, 1), Port: 8080, State: StateListen, Inode: 1001},
		{IP: net.IPv4(0, 0, 0, 0), Port: 3001, State: StateListen, Inode: 1002},
		{IP: net.IPv4(127, 0, 0, 1), Port: 54321, State: 1, Inode: 1003},
		{IP: net.IPv4(10, 0, 2, 15), Port: 22, State: StateListen, Inode: 1004},
	}
	if len(socks) != len(want) {
		t.Fatalf("got %d sockets, expected %d", len(socks), len(want))
	}
	for i := range want {
		if !socks[i].IP.Equal(want[i].IP) || socks[i].Port != want[i].Port || socks[i].State != want[i].State || socks[i].Inode != want[i].Inode {
			t.Errorf("row %d: got %+v, expected %+v", i, socks[i], want[i])
		}
	}
	locals := []bool{true, true, true, false}
	for i, s := range socks {
		if s.Local() != locals[i] {
			t.Errorf("row %d: Local() = %v", i, s.Local())
		}
	}
}

func TestParseNetTCP6(t *testing.T) {
	socks, err := ParseNetTCP(strings.NewReader(netTCP6))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip    string
		port  int
		local bool
	}{
		{"::1", 20001, true},
		{"::", 20002, true},
		{"127.0.0.1", 20003, true}, // v4-mapped
	}
	for i, tc := range tests {
		if !socks[i].IP.Equal(net.ParseIP(tc.ip)) || socks[i].Port != tc.port || socks[i].Local() != tc.local {
			t.Errorf("row %d: got %v:%d local=%v, expected %s:%d", i, socks[i].IP, socks[i].Port, socks[i].Local(), tc.ip, tc.port)
		}
	}
}

func TestParseNetTCPErrors(t *testing.T) {
	for _, in := range []string{
		"   0: 0100007F 00000000:0000 0A 0 0 0 0 0 1001\n",
		"   0: ZZ00007F:1F90 00000000:0000 0A 0 0 0 0 0 1001\n",
		"   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 x\n",
		"   0: 0100007F:1F90 00000000:0000\n",
	} {
		if _, err := ParseNetTCP(strings.NewReader(in)); err == nil {
			t.Errorf("%q: expected an error", in)
		}
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in   string
		want Stat
	}{
		{"4242 (steel-browser-e) S 4200 4242 4200 0 -1 4194560 0 0", Stat{4242, "steel-browser-e", 'S', 4200}},
		{"77 (a (weird) name) Z 1 77 77 0", Stat{77, "a (weird) name", 'Z', 1}},
		{"9 (sp ace) T 2 9", Stat{9, "sp ace", 'T', 2}},
	}
	for _, tc := range tests {
		got, err := ParseStat([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", "12 no-parens S 1", "x (a) S 1", "12 (a)", "12 (a) S x"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

// fixture builds a /proc tree: pid -> stat line, cmdline and fd links.
type fixtureProc struct {
	stat    string
	cmdline string
	fds     map[string]string
}

func fixture(t *testing.T, procs map[int]fixtureProc) FS {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "net"), 0o755))
	must(os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(netTCP), 0o644))
	must(os.MkdirAll(filepath.Join(root, "self"), 0o755))
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		must(os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
		must(os.WriteFile(filepath.Join(dir, "stat"), []byte(p.stat), 0o644))
		must(os.WriteFile(filepath.Join(dir, "cmdline"), []byte(p.cmdline), 0o644))
		for fd, link := range p.fds {
			must(os.Symlink(link, filepath.Join(dir, "fd", fd)))
		}
	}
	return FS{Root: root}
}

func TestFixtureTree(t *testing.T) {
	fs := fixture(t, map[int]fixtureProc{
		100: {stat: "100 (lighttpd) S 1 100 100 0", cmdline: "lighttpd\x00-D\x00", fds: map[string]string{"3": "socket:[1001]", "4": "pipe:[55]"}},
		200: {stat: "200 (steel-browser) S 150 200 200 0", cmdline: "./steel-browser\x00", fds: map[string]string{"3": "socket:[1002]"}},
		201: {stat: "201 (steel-browser) S 200 200 200 0", cmdline: "./steel-browser\x00", fds: map[string]string{"7": "socket:[1002]"}},
		300: {stat: "300 (steel-browser-e) Z 150 300 300 0", cmdline: ""},
		301: {stat: "301 (sleep) Z 150 301 301 0", cmdline: ""},
		302: {stat: "302 (steel-browser-e) X 150 302 302 0", cmdline: ""},
	})
	socks, err := fs.ListeningLocal()
	if err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, s := range socks {
		ports = append(ports, s.Port)
	}
	if !reflect.DeepEqual(ports, []int{8080, 3001}) {
		t.Errorf("listening local ports %v, expected [8080 3001]", ports)
	}
	owners, err := fs.SocketOwners(map[uint64]bool{1001: true, 1002: true, 9999: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(owners, map[uint64][]int{1001: {100}, 1002: {200, 201}}) {
		t.Errorf("owners %v", owners)
	}
	if cmd, _ := fs.Cmdline(100); cmd != "lighttpd -D" {
		t.Errorf("cmdline %q", cmd)
	}
	zs, err := fs.Zombies("steel-browser")
	if err != nil || len(zs) != 1 || zs[0].Pid != 300 {
		t.Errorf("zombies %+v, %v", zs, err)
	}
	for pid, gone := range map[int]bool{100: false, 300: true, 302: true, 999: true} {
		if fs.Gone(pid) != gone {
			t.Errorf("Gone(%d) = %v", pid, !gone)
		}
	}
}

func TestRealProcSeesOwnListener(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	socks, err := Default.ListeningLocal()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.Port == port {
			owners, err := Default.SocketOwners(map[uint64]bool{s.Inode: true})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(owners[s.Inode], []int{os.Getpid()}) {
				t.Errorf("owner of port %d: %v, expected [%d]", port, owners[s.Inode], os.Getpid())
			}
			return
		}
	}
	t.Errorf("port %d not among the listening sockets", port)
}
