package cli

import (
	"errors"
	"testing"
)

func TestNewFmtCmd(t *testing.T) {
	tests := []struct {
		args    []string
		want    fmtOptions
		wantErr bool
	}{
		{args: []string{"a"}, want: fmtOptions{Files: []string{"a"}}},
		{args: []string{"-w", "a", "b"}, want: fmtOptions{Write: true, Files: []string{"a", "b"}}},
		{args: []string{"-d", "a"}, want: fmtOptions{Diff: true, Files: []string{"a"}}},
		{args: []string{"-l", "a"}, want: fmtOptions{List: true, Files: []string{"a"}}},
		{args: []string{"-l", "-w", "a"}, wantErr: true},
		{args: []string{}, wantErr: true},
	}
	for _, tt := range tests {
		io, _, _, _ := TestStreams()
		var got *fmtOptions
		cmd := newFmtCmd(&Factory{IO: io}, func(o *fmtOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(io.Out)
		cmd.SetErr(io.ErrOut)
		err := cmd.Execute()
		if tt.wantErr {
			var fe *FlagError
			if !errors.As(err, &fe) {
				t.Errorf("%v: want a usage error, got %v", tt.args, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got.Write != tt.want.Write || got.Diff != tt.want.Diff || got.List != tt.want.List || len(got.Files) != len(tt.want.Files) {
			t.Errorf("%v: got %+v, want %+v", tt.args, *got, tt.want)
		}
	}
}
