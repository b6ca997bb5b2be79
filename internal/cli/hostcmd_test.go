package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
)

func TestHostErrorExitCodes(t *testing.T) {
	pe := &host.ParserError{Op: "replace", Err: errors.New("exit status 1")}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{&host.UnavailableError{}, ExitEnviron},
		{&host.KernelError{ParserError: pe}, ExitEnviron},
		{&host.RolledBackError{Err: &host.KernelError{ParserError: pe}}, ExitEnviron},
		{fmt.Errorf("write /etc/apparmor.d/x: %w", fs.ErrPermission), ExitEnviron},
		{pe, ExitEnviron}, // the parser did not run
		{&host.InvalidProfileError{ParserError: pe}, ExitFound},
		{&host.InUseError{Profile: "x"}, ExitFound},
		{&host.NotFoundError{Arg: "x"}, ExitUsage},
		{&host.AmbiguousError{Arg: "x"}, ExitUsage},
		{&FoundError{Msg: "gate"}, ExitFound},
		{errors.New("something unexpected"), ExitEnviron},
	} {
		if got := exitCode(hostError(tc.err)); got != tc.want {
			t.Errorf("%T %v: exit %d, want %d", tc.err, tc.err, got, tc.want)
		}
	}
}

// eachArg keeps going after a failure, reports each, and exits with the
// most severe status.
func TestEachArg(t *testing.T) {
	var errOut bytes.Buffer
	var seen []string
	err := eachArg(&errOut, "load", []string{"a", "b", "c", "d"}, func(arg string) error {
		seen = append(seen, arg)
		switch arg {
		case "a":
			return &host.InUseError{Profile: "a"}
		case "b":
			return &host.NotFoundError{Arg: "b"}
		case "c":
			return &host.UnavailableError{}
		}
		return nil
	})
	if len(seen) != 4 {
		t.Errorf("ran %v, want all four", seen)
	}
	if exitCode(err) != ExitEnviron || !strings.Contains(err.Error(), "load: 3 of 4 failed") {
		t.Errorf("err = %v (exit %d), want exit 3 and the count", err, exitCode(err))
	}
	for _, want := range []string{"armorer load: a: ", "armorer load: b: ", "armorer load: c: "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr %q lacks %q", errOut.String(), want)
		}
	}
}
