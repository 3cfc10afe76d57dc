package proc

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Child is a started process and the state of its wait.
type Child struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts cmd as a managed child. cmd must not have been started; its
// SysProcAttr is replaced.
func Start(name string, cmd *exec.Cmd) (*Child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a terminal's Ctrl-C reaches only us, and we
		// shut children down in the order we choose.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed when the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is the child's exit error; call it only after Done is closed.
func (c *Child) Err() error { return c.err }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// ErrKilled reports that a child ignored SIGTERM for the grace period.
var ErrKilled = errors.New("did not exit on SIGTERM; killed")

// Stop sends SIGTERM to the child's process group, waits up to grace, then
// sends SIGKILL and waits for the reap (bounded by another grace). It is
// idempotent and returns ErrKilled (wrapped) if SIGKILL was needed.
func (c *Child) Stop(grace time.Duration) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(grace) })
	return c.stopErr
}

func (c *Child) stop(grace time.Duration) error {
	if c.Exited() {
		return nil
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	t.Reset(grace)
	select {
	case <-c.done:
		return fmt.Errorf("%s: %w", c.Name, ErrKilled)
	case <-t.C:
		return fmt.Errorf("%s: still running after SIGKILL", c.Name)
	}
}
