// SPDX-License-Identifier: BSD-2-Clause

package emu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as the steel-browser-emu command.
const childEnv = "STEEL_EMU_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		cfg, err := ParseConfig(os.Getenv)
		if err != nil {
			fmt.Fprintf(os.Stderr, "steel-browser-emu: %v\n", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		os.Exit(Run(ctx, cfg, os.Stdout, os.Exit))
	}
	os.Exit(m.Run())
}

// child is an emulator process; it is always killed when the test ends.
type child struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	port   int
	waited chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startChild runs the emulator with env (PORT is added unless env sets it)
// and, when wait is true, waits until /health answers. A child that could
// not bind the chosen free port (taken meanwhile) is retried on another.
func startChild(t *testing.T, env map[string]string, wait bool) *child {
	t.Helper()
	_, fixed := env["PORT"]
	for attempt := 1; ; attempt++ {
		if !fixed {
			env["PORT"] = ""
		}
		c, ok := tryChild(t, env, wait)
		if ok || fixed || attempt == 3 {
			return c
		}
	}
}

func tryChild(t *testing.T, env map[string]string, wait bool) (*child, bool) {
	t.Helper()
	c := &child{out: &syncBuffer{}, waited: make(chan struct{})}
	if env["PORT"] == "" && wait {
		c.port = freePort(t)
		env["PORT"] = strconv.Itoa(c.port)
	}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.waited) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.waited
	})
	if wait {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get(c.url("/health"))
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-c.waited:
				return c, false // exited: the port was taken
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("emulator did not come up: %v\n%s", err, c.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c, true
}

func (c *child) url(p string) string {
	return "http://127.0.0.1:" + strconv.Itoa(c.port) + p
}

// exitCode waits up to d for the process to end and returns its status.
func (c *child) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.waited:
	case <-time.After(d):
		t.Fatalf("process still running after %v\n%s", d, c.out)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

func TestProcessCrashesDuringPost(t *testing.T) {
	t.Parallel()
	c := startChild(t, map[string]string{"STEEL_EMU_CRASH_PROB": "1", "STEEL_EMU_CRASH_ON": "post"}, true)
	resp, err := client.Post(c.url("/sessions"), "application/json", strings.NewReader(`{"a":1}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST answered %d; expected the connection to drop", resp.StatusCode)
	}
	if code := c.exitCode(t, 5*time.Second); code != 1 {
		t.Errorf("exit status %d, expected 1", code)
	}
	if !strings.Contains(c.out.String(), "crashing during POST /sessions") {
		t.Errorf("no crash line in the log:\n%s", c.out)
	}
}

func TestProcessHangsAndStillExitsOnSigterm(t *testing.T) {
	t.Parallel()
	c := startChild(t, map[string]string{"STEEL_EMU_HANG_PROB": "1", "STEEL_EMU_HANG_ON": "status", "STEEL_EMU_START_DELAY_MS": "100"}, true)
	short := &http.Client{Timeout: 300 * time.Millisecond}
	for _, p := range []string{"/status", "/health"} {
		if resp, err := short.Get(c.url(p)); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s answered %d from a hung worker", p, resp.StatusCode)
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, expected 0", code)
	}
}

func TestProcessLogsAndStopsOnSigterm(t *testing.T) {
	t.Parallel()
	c := startChild(t, map[string]string{}, true)
	resp, err := client.Post(c.url("/sessions"), "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d, expected 0", code)
	}
	if !strings.Contains(c.out.String(), "steel-browser-emu: POST /sessions 201 ") {
		t.Errorf("no request line in the log:\n%s", c.out)
	}
}

func TestProcessBadEnvironmentAndBusyPort(t *testing.T) {
	t.Parallel()
	c := startChild(t, map[string]string{"PORT": ""}, false)
	if code := c.exitCode(t, 5*time.Second); code != 2 {
		t.Errorf("no PORT: exit status %d, expected 2", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	c = startChild(t, map[string]string{"PORT": port}, false)
	if code := c.exitCode(t, 5*time.Second); code != 1 {
		t.Errorf("busy port: exit status %d, expected 1", code)
	}
}
