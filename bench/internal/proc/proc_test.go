package proc

import (
	"bufio"
	"errors"
	"os/exec"
	"testing"
	"time"
)

func TestStopTerm(t *testing.T) {
	c, err := Start("sleep", exec.Command("sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !c.Exited() {
		t.Fatal("not exited after Stop")
	}
}

func TestStopKill(t *testing.T) {
	// An ignored signal stays ignored across exec, so sleep ignores TERM.
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo up; exec sleep 30`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Start("stubborn", cmd)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the trap is installed: the shell prints after it.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	err = c.Stop(300 * time.Millisecond)
	if !errors.Is(err, ErrKilled) {
		t.Fatalf("err = %v, want ErrKilled", err)
	}
	if !c.Exited() {
		t.Fatal("not exited after SIGKILL")
	}
}
