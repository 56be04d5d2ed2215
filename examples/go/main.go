// tapstate-client: a runtime-like Go program driving the tapstate daemon.
//
//	-mode hot: create a sandbox for a running QEMU, add two endpoints, hot-attach both, check
//	           QEMU has the NICs (on a QMP socket of its own), hot-detach both, check they are
//	           gone, delete the sandbox.
//	-mode fds: create a sandbox, add an endpoint, cold-attach it, receive its queue fds over the
//	           socket (SCM_RIGHTS), boot a QEMU of its own with `-netdev tap,fds=3:4`, check the
//	           NIC, stop QEMU, detach, delete the sandbox.
//
// Every step prints one JSON line; any failure exits 1 with the reason on stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func step(name string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["step"] = name
	b, _ := json.Marshal(fields)
	fmt.Println(string(b))
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "tapstate-client: "+format+"\n", a...)
	os.Exit(1)
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func main() {
	mode := flag.String("mode", "hot", "hot | fds")
	socket := flag.String("socket", "/run/tapstate/api.sock", "the daemon's unix socket")
	sandbox := flag.String("sandbox", "go-example", "sandbox id")
	netns := flag.String("netns", "", "the sandbox's netns path (required)")
	qmp := flag.String("qmp", "", "hot: the QMP socket the daemon hot-plugs through")
	checkQmp := flag.String("check-qmp", "", "hot: another QMP socket of the same QEMU, for this program's checks")
	qemu := flag.String("qemu", "qemu-system-x86_64", "fds: the QEMU binary to boot")
	dir := flag.String("dir", os.TempDir(), "fds: a directory for the booted QEMU's QMP socket")
	flag.Parse()
	if *netns == "" {
		fail("-netns is required")
	}
	c := NewClient(*socket)
	var version map[string]any
	must(c.Do("GET", "/v1/version", nil, nil, &version), "version")
	step("version", version)
	switch *mode {
	case "hot":
		if *qmp == "" || *checkQmp == "" {
			fail("-mode hot needs -qmp and -check-qmp")
		}
		hot(c, *sandbox, *netns, *qmp, *checkQmp)
	case "fds":
		fds(c, *sandbox, *netns, *qemu, *dir)
	default:
		fail("unknown -mode %q", *mode)
	}
}

func createSandbox(c *Client, id string, config map[string]any) {
	must(c.Do("PUT", "/v1/sandboxes/"+id, config, nil, nil), "create sandbox")
	step("sandbox-created", map[string]any{"sandbox": id})
}

func addEndpoint(c *Client, sandbox string, idx int) *Endpoint {
	var ep Endpoint
	must(c.Do("POST", "/v1/sandboxes/"+sandbox+"/endpoints", map[string]any{"idx": idx}, nil, &ep), fmt.Sprintf("add endpoint %d", idx))
	step("endpoint-added", map[string]any{"id": ep.ID, "tap": ep.TapName, "mac": ep.Mac})
	return &ep
}

func deleteSandbox(c *Client, id string) {
	must(c.Do("DELETE", "/v1/sandboxes/"+id, nil, nil, nil), "delete sandbox")
	step("sandbox-deleted", map[string]any{"sandbox": id})
}

// runAll runs one action on every endpoint at once (each with its own idempotency key).
func runAll(c *Client, sandbox string, eps []*Endpoint, action, want string) {
	var wg sync.WaitGroup
	errs := make([]error, len(eps))
	for i, ep := range eps {
		wg.Add(1)
		go func(i int, ep *Endpoint) {
			defer wg.Done()
			key := fmt.Sprintf("%s-%s-%d", action, ep.ID, time.Now().UnixNano())
			v, err := c.Action(sandbox, ep.ID, action, key)
			if err == nil && v.State != want {
				err = fmt.Errorf("%s ended in %s, want %s", ep.ID, v.State, want)
			}
			if err == nil {
				*ep = *v
			}
			errs[i] = err
		}(i, ep)
	}
	wg.Wait()
	for _, err := range errs {
		must(err, action)
	}
	for _, ep := range eps {
		step(action, map[string]any{"id": ep.ID, "state": ep.State, "pci": ep.PciPath})
	}
}

func hot(c *Client, sandbox, netns, qmpPath, checkPath string) {
	createSandbox(c, sandbox, map[string]any{"netnsPath": netns, "netnsCreated": true, "qmp": qmpPath, "vcpus": 2, "vhost": false})
	eps := []*Endpoint{addEndpoint(c, sandbox, 0), addEndpoint(c, sandbox, 1)}
	runAll(c, sandbox, eps, "hot-attach", "hotAttached")
	q, err := DialQMP(checkPath, 10*time.Second)
	must(err, "QMP")
	defer q.Close()
	devs, err := q.Peripherals()
	must(err, "qom-list")
	info, err := q.InfoNetwork()
	must(err, "info network")
	for _, ep := range eps {
		if !devs["virtio-net-"+ep.ID] || !strings.Contains(info, "net-"+ep.ID+":") {
			fail("QEMU has no NIC for %s (devices %v; info network %q)", ep.ID, devs, info)
		}
	}
	step("qemu-has-nics", map[string]any{"devices": len(devs)})
	runAll(c, sandbox, eps, "hot-detach", "detached")
	devs, err = q.Peripherals()
	must(err, "qom-list")
	info, err = q.InfoNetwork()
	must(err, "info network")
	for _, ep := range eps {
		if devs["virtio-net-"+ep.ID] || strings.Contains(info, "net-"+ep.ID+":") {
			fail("QEMU still has the NIC of %s after hot-detach", ep.ID)
		}
	}
	step("qemu-nics-gone", nil)
	var list struct {
		Endpoints []Endpoint `json:"endpoints"`
	}
	must(c.Do("GET", "/v1/sandboxes/"+sandbox+"/endpoints", nil, nil, &list), "status")
	for _, ep := range list.Endpoints {
		if ep.State != "detached" || ep.Status != "settled" {
			fail("%s is %s/%s", ep.ID, ep.State, ep.Status)
		}
	}
	deleteSandbox(c, sandbox)
}

func fds(c *Client, sandbox, netns, qemuBin, dir string) {
	createSandbox(c, sandbox, map[string]any{"netnsPath": netns, "netnsCreated": true, "vcpus": 2, "vhost": false})
	ep := addEndpoint(c, sandbox, 0)
	v, err := c.Action(sandbox, ep.ID, "attach", "attach-"+ep.ID)
	must(err, "attach")
	step("attach", map[string]any{"id": v.ID, "state": v.State, "args": v.ColdplugArgs})
	h, files, err := c.QueueFds(sandbox, ep.ID)
	must(err, "queue fds")
	step("fds-received", map[string]any{"fds": len(files), "args": h.Args})
	qmpPath := filepath.Join(dir, "go-qemu.sock")
	args := []string{"-machine", "q35,accel=kvm:tcg", "-S", "-m", "128M", "-nodefaults", "-no-user-config", "-nographic",
		"-display", "none", "-serial", "none", "-monitor", "none", "-qmp", "unix:" + qmpPath + ",server=on,wait=off"}
	args = append(args, h.Args...)
	cmd := exec.Command(qemuBin, args...)
	cmd.ExtraFiles = files // fd 3, 4, … in the child: the fds=3:4 of the args
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(cmd.Start(), "start QEMU")
	for _, f := range files {
		f.Close() // QEMU has its own copies now
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()
	q, err := DialQMP(qmpPath, 20*time.Second)
	if err != nil {
		stop()
		fail("QEMU did not come up: %v; stderr: %s", err, stderr.String())
	}
	devs, err := q.Peripherals()
	must(err, "qom-list")
	info, err := q.InfoNetwork()
	must(err, "info network")
	if !devs["virtio-net-"+ep.ID] || !strings.Contains(info, "net-"+ep.ID+":") {
		fail("the booted QEMU has no NIC for %s (devices %v; info network %q)", ep.ID, devs, info)
	}
	step("qemu-booted-with-fds", map[string]any{"pid": cmd.Process.Pid, "info": strings.TrimSpace(info)})
	_, _ = q.Execute("quit", nil)
	q.Close()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	step("qemu-stopped", nil)
	v, err = c.Action(sandbox, ep.ID, "detach", "detach-"+ep.ID)
	must(err, "detach")
	step("detach", map[string]any{"id": v.ID, "state": v.State})
	deleteSandbox(c, sandbox)
}
