package cli

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/library"
	"github.com/armorer-dev/armorer/lint"
)

// Shell completion that knows armorer's domain: profile names from the
// profile directory, SOURCE schemes, and the values each enumerated flag
// takes. Cobra's `completion bash|zsh|fish` scripts all call the hidden
// `__complete` command, so this one table serves every shell.
//
// The table is keyed by flag and command names and applied to the whole
// tree once it is built, so a verb's file declares its flags and nothing
// about completion.

// flagValues are the fixed choices of enumerated flags, with what each means.
var flagValues = map[string][]cobra.Completion{
	"glob": globCompletions(),
	"abi": {
		cobra.CompletionWithDesc("3.0", "AppArmor 3.x policy (Debian 12, Ubuntu 22.04)"),
		cobra.CompletionWithDesc("4.0", "AppArmor 4.x policy (Debian 13, Ubuntu 24.04)"),
	},
	"exec": {
		cobra.CompletionWithDesc("cx", "a child profile for each helper program"),
		cobra.CompletionWithDesc("ix", "helpers inherit the application's profile"),
	},
	"local": {
		cobra.CompletionWithDesc("auto", "local/NAME for packaged profiles, else the profile itself"),
		cobra.CompletionWithDesc("always", "always write additions to local/NAME"),
		cobra.CompletionWithDesc("never", "always write into the profile itself"),
	},
	"target": {
		cobra.CompletionWithDesc("3.0", "what apparmor_parser 3.0 accepts"),
		cobra.CompletionWithDesc("4.1", "what apparmor_parser 4.1 accepts"),
	},
}

func globCompletions() []cobra.Completion {
	doc := map[learn.GlobMode]string{
		learn.GlobNone:       "exact paths only",
		learn.GlobSafe:       "only what varies between runs: pids, home, numbers, hex, dir/* for siblings",
		learn.GlobAggressive: "safe, and dir/** across subdirectories",
	}
	var out []cobra.Completion
	for _, m := range []learn.GlobMode{learn.GlobNone, learn.GlobSafe, learn.GlobAggressive} {
		out = append(out, cobra.CompletionWithDesc(m.String(), doc[m]))
	}
	return out
}

// sourceSchemes are the SOURCE forms besides a path, as DESIGN.md lists them.
var sourceSchemes = []cobra.Completion{
	cobra.CompletionWithDesc("kmsg:", "the kernel ring buffer (/dev/kmsg)"),
	cobra.CompletionWithDesc("journal:", "the systemd journal, or journal:PATH for a directory or file"),
	cobra.CompletionWithDesc("auditd:", "auditd's log, or auditd:PATH (default /var/log/audit/audit.log)"),
	cobra.CompletionWithDesc("netlink:", "the audit netlink multicast group (CAP_AUDIT_READ)"),
	cobra.CompletionWithDesc("state:", "state:NAME, the events armorer kept for profile NAME"),
	cobra.CompletionWithDesc("-", "standard input"),
}

// What a command's positional arguments are.
type argKind int

const (
	argFiles    argKind = iota // the shell's own file completion
	argSources                 // SOURCE...
	argProfiles                // NAME|FILE...
	argNone                    // no arguments
	argLibrary                 // NAME of the profile library
)

// commandArgs maps a command path (without the root) to its positional arguments;
// simulate's first argument is a profile and the rest are sources.
var commandArgs = map[string]argKind{
	"events":   argSources,
	"learn":    argSources,
	"complain": argProfiles,
	"enforce":  argProfiles,
	"disable":  argProfiles,
	"load":     argProfiles,
	"unload":   argProfiles,
	"restore":  argProfiles,
	"monitor":  argNone,
	"status":   argNone,
	"version":  argNone,

	"k8s manifests": argNone,
	"k8s patch":     argNone,
	"k8s check":     argNone,
	"k8s agent":     argNone,

	"library list":    argNone,
	"library show":    argLibrary,
	"library install": argLibrary,
}

// registerCompletions applies the tables to every command of the tree.
func registerCompletions(root *cobra.Command, f *Factory) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(fl *pflag.Flag) {
			if fn := flagCompletion(f, fl.Name); fn != nil {
				// Only fails for an unknown flag or a second registration: neither happens here.
				_ = c.RegisterFlagCompletionFunc(fl.Name, fn)
			}
		})
		if c.ValidArgsFunction == nil && c.ValidArgs == nil {
			if fn := argsCompletion(f, c); fn != nil {
				c.ValidArgsFunction = fn
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func flagCompletion(f *Factory, name string) cobra.CompletionFunc {
	if vals, ok := flagValues[name]; ok {
		return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return withPrefix(vals, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	switch name {
	case "profile":
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return profileNames(f, cmd, "", toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	case "source", "events":
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return completeSource(f, cmd, toComplete)
		}
	case "dir", "include", "base", "profiles", "includes", "state-dir", "runtime-root":
		return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}
	case "disable":
		return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var out []cobra.Completion
			for _, c := range lint.Analyzers {
				out = append(out, cobra.CompletionWithDesc(c.ID, c.Name))
			}
			return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	return nil
}

func argsCompletion(f *Factory, c *cobra.Command) cobra.CompletionFunc {
	path := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	if path == "simulate" {
		return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return completeProfileArg(f, cmd, toComplete)
			}
			return completeSource(f, cmd, toComplete)
		}
	}
	switch commandArgs[path] {
	case argSources:
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return completeSource(f, cmd, toComplete)
		}
	case argProfiles:
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return completeProfileArg(f, cmd, toComplete)
		}
	case argNone:
		return cobra.NoFileCompletions
	case argLibrary:
		return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			all, _ := library.List()
			var out []cobra.Completion
			for _, p := range all {
				out = append(out, cobra.CompletionWithDesc(p.Name, orDash(p.Attach)))
			}
			return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	return nil
}

// completeProfileArg offers profile names; once the word looks like a path,
// the shell completes files instead.
func completeProfileArg(f *Factory, cmd *cobra.Command, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if looksLikePath(toComplete) {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return profileNames(f, cmd, "", toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeSource completes one SOURCE: a scheme, state:NAME, the path of
// journal:PATH or auditd:PATH, or a plain path.
func completeSource(f *Factory, cmd *cobra.Command, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if name, ok := strings.CutPrefix(toComplete, stateScheme); ok {
		return profileNames(f, cmd, stateScheme, name), cobra.ShellCompDirectiveNoFileComp
	}
	for _, scheme := range []string{"journal:", "auditd:"} {
		if p, ok := strings.CutPrefix(toComplete, scheme); ok {
			return pathCandidates(scheme, p), cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
		}
	}
	if looksLikePath(toComplete) {
		return nil, cobra.ShellCompDirectiveDefault
	}
	out := withPrefix(sourceSchemes, toComplete)
	// The schemes and the files here, in one list: a shell cannot mix its
	// own file completion with words from the program.
	out = append(out, pathCandidates("", toComplete)...)
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// withPrefix keeps the choices that complete the word typed so far.
func withPrefix(choices []cobra.Completion, toComplete string) []cobra.Completion {
	var out []cobra.Completion
	for _, c := range choices {
		if strings.HasPrefix(c, toComplete) {
			out = append(out, c)
		}
	}
	return out
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") || strings.Contains(s, "/")
}

// pathCandidates lists the directory entries that complete partial, each
// after prefix; directories end in "/" so completion can go on into them.
func pathCandidates(prefix, partial string) []cobra.Completion {
	dir, base := filepath.Split(partial)
	ents, err := os.ReadDir(cmp.Or(dir, "."))
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		c := prefix + dir + name
		if e.IsDir() {
			c += "/"
		}
		out = append(out, c)
	}
	return out
}

// profileNames lists the profiles the profile directory defines (the
// command's --dir when it has one and it is set), each after prefix.
func profileNames(f *Factory, cmd *cobra.Command, prefix, toComplete string) []cobra.Completion {
	var h *host.Host
	if fl := cmd.Flags().Lookup("dir"); fl != nil && fl.Value.String() != "" {
		p := HostPathsFromEnv()
		p.ProfileDir = fl.Value.String()
		h = host.New(p, nil)
	} else if f.Host != nil {
		var err error
		if h, err = f.Host(); err != nil {
			return nil
		}
	}
	if h == nil {
		return nil
	}
	names, err := h.DefinedProfiles()
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, n := range names {
		// Names that are paths (profile /usr/bin/foo) are completed as files.
		if strings.HasPrefix(n, toComplete) && !strings.HasPrefix(n, "/") {
			out = append(out, prefix+n)
		}
	}
	slices.Sort(out)
	return out
}
