package cli

import (
	"slices"
	"testing"
)

// The host verbs' flags and arguments, checked through runF.
func TestHostVerbFlags(t *testing.T) {
	ios, _, _, _ := TestStreams()
	f := &Factory{IO: ios}
	t.Run("status", func(t *testing.T) {
		var got *statusOptions
		cmd := newStatusCmd(f, func(o *statusOptions) error { got = o; return nil })
		cmd.SetArgs([]string{"--json"})
		if err := cmd.Execute(); err != nil || !got.JSON {
			t.Errorf("status --json: %v, %+v", err, got)
		}
		cmd = newStatusCmd(f, func(*statusOptions) error { return nil })
		cmd.SetArgs([]string{"extra"})
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); exitCode(err) != ExitUsage {
			t.Errorf("status extra: exit %d, want 2", exitCode(err))
		}
	})
	t.Run("load", func(t *testing.T) {
		var got *loadOptions
		cmd := newLoadCmd(f, func(o *loadOptions) error { got = o; return nil })
		cmd.SetArgs([]string{"--complain", "a", "b"})
		if err := cmd.Execute(); err != nil || !got.Complain || !slices.Equal(got.Profiles, []string{"a", "b"}) {
			t.Errorf("load: %v, %+v", err, got)
		}
	})
	t.Run("enforce", func(t *testing.T) {
		var got *enforceOptions
		cmd := newEnforceCmd(f, func(o *enforceOptions) error { got = o; return nil })
		cmd.SetArgs([]string{"--force", "--events", "a.log", "--events", "journal:", "myapp"})
		if err := cmd.Execute(); err != nil || !got.Force || !slices.Equal(got.Events, []string{"a.log", "journal:"}) || !slices.Equal(got.Profiles, []string{"myapp"}) {
			t.Errorf("enforce: %v, %+v", err, got)
		}
	})
	for name, mk := range map[string]func() error{
		"unload": func() error {
			var got *unloadOptions
			cmd := newUnloadCmd(f, func(o *unloadOptions) error { got = o; return nil })
			cmd.SetArgs([]string{"--force", "x"})
			err := cmd.Execute()
			if err == nil && (!got.Force || got.Profiles[0] != "x") {
				t.Errorf("unload: %+v", got)
			}
			return err
		},
		"disable": func() error {
			var got *disableOptions
			cmd := newDisableCmd(f, func(o *disableOptions) error { got = o; return nil })
			cmd.SetArgs([]string{"--force", "x"})
			err := cmd.Execute()
			if err == nil && (!got.Force || got.Profiles[0] != "x") {
				t.Errorf("disable: %+v", got)
			}
			return err
		},
		"complain": func() error {
			var got *complainOptions
			cmd := newComplainCmd(f, func(o *complainOptions) error { got = o; return nil })
			cmd.SetArgs([]string{"x", "y"})
			err := cmd.Execute()
			if err == nil && !slices.Equal(got.Profiles, []string{"x", "y"}) {
				t.Errorf("complain: %+v", got)
			}
			return err
		},
	} {
		if err := mk(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Every profile verb needs at least one argument (exit 2).
	for _, cmd := range []interface {
		SetArgs([]string)
		Execute() error
	}{
		newLoadCmd(f, nil), newUnloadCmd(f, nil), newComplainCmd(f, nil), newEnforceCmd(f, nil), newDisableCmd(f, nil),
	} {
		cmd.SetArgs(nil)
		if err := cmd.Execute(); exitCode(err) != ExitUsage {
			t.Errorf("no arguments: exit %d, want 2", exitCode(err))
		}
	}
}
