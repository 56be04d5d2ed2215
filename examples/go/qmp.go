package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// QMP is a minimal QEMU Machine Protocol client (one command at a time), to look at QEMU from outside.
type QMP struct {
	conn net.Conn
	rd   *bufio.Reader
}

func DialQMP(path string, timeout time.Duration) (*QMP, error) {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			q := &QMP{conn: conn, rd: bufio.NewReader(conn)}
			if _, err := q.rd.ReadBytes('\n'); err != nil { // greeting
				conn.Close()
				return nil, err
			}
			if _, err := q.Execute("qmp_capabilities", nil); err != nil {
				conn.Close()
				return nil, err
			}
			return q, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (q *QMP) Execute(cmd string, args any) (json.RawMessage, error) {
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, _ := json.Marshal(msg)
	_ = q.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	for {
		line, err := q.rd.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var r struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, err
		}
		if r.Event != "" {
			continue
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s: %s", cmd, r.Error.Class, r.Error.Desc)
		}
		return r.Return, nil
	}
}

// Peripherals lists the ids of QEMU's user-created devices.
func (q *QMP) Peripherals() (map[string]bool, error) {
	raw, err := q.Execute("qom-list", map[string]string{"path": "/machine/peripheral"})
	if err != nil {
		return nil, err
	}
	var props []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range props {
		if len(p.Type) > 6 && p.Type[:6] == "child<" {
			out[p.Name] = true
		}
	}
	return out, nil
}

// InfoNetwork is HMP `info network` (netdevs and their backends).
func (q *QMP) InfoNetwork() (string, error) {
	raw, err := q.Execute("human-monitor-command", map[string]string{"command-line": "info network"})
	if err != nil {
		return "", err
	}
	var s string
	err = json.Unmarshal(raw, &s)
	return s, err
}

func (q *QMP) Close() error { return q.conn.Close() }
