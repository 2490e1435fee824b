// SPDX-License-Identifier: BSD-2-Clause

// Package emu is an emulator of the steel-browser worker: one HTTP server
// that holds at most one session, with knobs that make it slow, crash or hang
// the way the real worker is said to.
//
// Invariants: at most one session exists; a session's created_at bytes never
// change after creation; the "data" member is the POST body's JSON bytes
// as sent (surrounding whitespace trimmed); once the process has hung, no
// request is ever answered again.
package emu

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Endpoint names used by the crash and hang knobs.
const (
	EPPost   = "post"
	EPGet    = "get"
	EPDelete = "delete"
	EPStatus = "status"
	EPHealth = "health"
	EPOther  = "other"
)

// CreatedAt formats.
const (
	CreatedEpoch   = "epoch"    // integer seconds
	CreatedEpochMs = "epoch_ms" // integer milliseconds
	CreatedISO     = "iso"      // RFC 3339 string in UTC
)

// Config is the emulator's configuration, read from the environment.
type Config struct {
	Bind        string          // STEEL_EMU_BIND, default 127.0.0.1
	Port        int             // PORT, required, 1..65535
	PostStatus  int             // STEEL_EMU_POST_STATUS: 201 (default) or 200
	CreatedAt   string          // STEEL_EMU_CREATED_AT: epoch, epoch_ms, iso
	StartDelay  time.Duration   // STEEL_EMU_START_DELAY_MS
	PostDelay   time.Duration   // STEEL_EMU_POST_DELAY_MS
	CrashProb   float64         // STEEL_EMU_CRASH_PROB, 0..1 per request
	CrashOn     map[string]bool // STEEL_EMU_CRASH_ON; nil: every endpoint
	HangProb    float64         // STEEL_EMU_HANG_PROB, 0..1 per request
	HangOn      map[string]bool // STEEL_EMU_HANG_ON; nil: every endpoint
	GarbageProb float64         // STEEL_EMU_GARBAGE_PROB, 0..1 per request
	GarbageOn   map[string]bool // STEEL_EMU_GARBAGE_ON; nil: every endpoint
	Seed        int64           // STEEL_EMU_SEED; 0: seeded from the clock
}

// Addr returns the listen address.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Bind, strconv.Itoa(c.Port))
}

// ParseConfig reads the configuration through getenv (os.Getenv in main).
// The error says which variable is wrong.
func ParseConfig(getenv func(string) string) (Config, error) {
	c := Config{Bind: "127.0.0.1", PostStatus: 201, CreatedAt: CreatedEpoch}
	p := strings.TrimSpace(getenv("PORT"))
	if p == "" {
		return c, fmt.Errorf("PORT is not set")
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return c, fmt.Errorf("PORT %q is not a port number (1-65535)", p)
	}
	c.Port = port
	if v := strings.TrimSpace(getenv("STEEL_EMU_BIND")); v != "" {
		if net.ParseIP(v) == nil && v != "localhost" {
			return c, fmt.Errorf("STEEL_EMU_BIND %q is not an IP address", v)
		}
		c.Bind = v
	}
	if v := strings.TrimSpace(getenv("STEEL_EMU_POST_STATUS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 200 && n != 201) {
			return c, fmt.Errorf("STEEL_EMU_POST_STATUS %q must be 200 or 201", v)
		}
		c.PostStatus = n
	}
	if v := strings.TrimSpace(getenv("STEEL_EMU_CREATED_AT")); v != "" {
		switch v {
		case CreatedEpoch, CreatedEpochMs, CreatedISO:
			c.CreatedAt = v
		default:
			return c, fmt.Errorf("STEEL_EMU_CREATED_AT %q must be epoch, epoch_ms or iso", v)
		}
	}
	if c.StartDelay, err = millis(getenv, "STEEL_EMU_START_DELAY_MS"); err != nil {
		return c, err
	}
	if c.PostDelay, err = millis(getenv, "STEEL_EMU_POST_DELAY_MS"); err != nil {
		return c, err
	}
	if c.CrashProb, err = prob(getenv, "STEEL_EMU_CRASH_PROB"); err != nil {
		return c, err
	}
	if c.HangProb, err = prob(getenv, "STEEL_EMU_HANG_PROB"); err != nil {
		return c, err
	}
	if c.GarbageProb, err = prob(getenv, "STEEL_EMU_GARBAGE_PROB"); err != nil {
		return c, err
	}
	if c.GarbageOn, err = endpoints(getenv, "STEEL_EMU_GARBAGE_ON"); err != nil {
		return c, err
	}
	if c.CrashOn, err = endpoints(getenv, "STEEL_EMU_CRASH_ON"); err != nil {
		return c, err
	}
	if c.HangOn, err = endpoints(getenv, "STEEL_EMU_HANG_ON"); err != nil {
		return c, err
	}
	if v := strings.TrimSpace(getenv("STEEL_EMU_SEED")); v != "" {
		if c.Seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			return c, fmt.Errorf("STEEL_EMU_SEED %q is not an integer", v)
		}
	}
	return c, nil
}

func millis(getenv func(string) string, name string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 3600_000 {
		return 0, fmt.Errorf("%s %q must be milliseconds between 0 and 3600000", name, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func prob(getenv func(string) string, name string) (float64, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 || f != f {
		return 0, fmt.Errorf("%s %q must be a probability between 0 and 1", name, v)
	}
	return f, nil
}

func endpoints(getenv func(string) string, name string) (map[string]bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return nil, nil
	}
	m := make(map[string]bool)
	for _, e := range strings.Split(v, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		switch e {
		case EPPost, EPGet, EPDelete, EPStatus, EPHealth, EPOther:
			m[e] = true
		case "":
		default:
			return nil, fmt.Errorf("%s: unknown endpoint %q (post, get, delete, status, health, other)", name, e)
		}
	}
	return m, nil
}
