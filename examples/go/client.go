// A client of the tapstate daemon API (docs/api/openapi.yaml) using only the standard library:
// net/http over a unix socket for JSON calls, and a raw unix connection with ReadMsgUnix +
// syscall.ParseUnixRights to receive a cold-attached tap's queue fds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// Client talks to `tapstate serve` on a unix socket.
type Client struct {
	socket string
	http   *http.Client
}

func NewClient(socket string) *Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &Client{
		socket: socket,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", socket)
			},
		}},
	}
}

// APIError is the daemon's {"error":{type,code,message,…}} reply.
type APIError struct {
	Status  int
	Type    string         `json:"type"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"-"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d %s (%s): %s", e.Status, e.Type, e.Code, e.Message)
}

// Endpoint is the daemon's view of an endpoint (the fields this example reads).
type Endpoint struct {
	ID           string   `json:"id"`
	Idx          int      `json:"idx"`
	State        string   `json:"state"`
	Status       string   `json:"status"`
	TapName      string   `json:"tapName"`
	Mac          string   `json:"mac"`
	Queues       int      `json:"queues"`
	PciPath      string   `json:"pciPath"`
	ColdplugArgs []string `json:"coldplugArgs"`
}

// Do sends a JSON request and decodes a 2xx reply into out (nil: ignore); non-2xx is an *APIError.
func (c *Client) Do(method, path string, body any, headers map[string]string, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://tapstate"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		apiErr := &APIError{Status: res.StatusCode}
		if json.Unmarshal(raw, &e) == nil && e.Error != nil {
			_ = json.Unmarshal(e.Error, apiErr)
			_ = json.Unmarshal(e.Error, &apiErr.Fields)
		} else {
			apiErr.Message = string(raw)
		}
		return apiErr
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Action runs hot-attach, hot-detach, attach, detach or cleanup, with an idempotency key.
func (c *Client) Action(sandbox, endpoint, action, key string) (*Endpoint, error) {
	var ep Endpoint
	err := c.Do("POST", "/v1/sandboxes/"+sandbox+"/endpoints/"+endpoint+"/actions", map[string]string{"action": action}, map[string]string{"Idempotency-Key": key}, &ep)
	return &ep, err
}

// FdHandover is the JSON part of the fds reply.
type FdHandover struct {
	Endpoint string   `json:"endpoint"`
	TapName  string   `json:"tapName"`
	Fds      int      `json:"fds"`
	Args     []string `json:"args"`
}

// QueueFds asks for a cold-attached endpoint's queue fds. They arrive with SCM_RIGHTS on the
// reply's first byte; the daemon closes the connection after the reply.
func (c *Client) QueueFds(sandbox, endpoint string) (*FdHandover, []*os.File, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: c.socket, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "POST /v1/sandboxes/" + sandbox + "/endpoints/" + endpoint + "/fds HTTP/1.1\r\nHost: tapstate\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, nil, err
	}
	var all bytes.Buffer
	var files []*os.File
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(256*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				return nil, nil, perr
			}
			for _, m := range msgs {
				fds, perr := syscall.ParseUnixRights(&m)
				if perr != nil {
					return nil, nil, perr
				}
				for i, fd := range fds {
					files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("%s-queue%d", endpoint, len(files)+i)))
				}
			}
		}
		all.Write(buf[:n])
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	res, err := http.ReadResponse(bufio.NewReader(&all), nil)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		closeAll()
		return nil, nil, fmt.Errorf("fds: HTTP %d: %s", res.StatusCode, raw)
	}
	var h FdHandover
	if err := json.Unmarshal(raw, &h); err != nil {
		closeAll()
		return nil, nil, err
	}
	if len(files) != h.Fds {
		closeAll()
		return nil, nil, fmt.Errorf("fds: the reply announces %d fds, %d arrived", h.Fds, len(files))
	}
	return &h, files, nil
}
