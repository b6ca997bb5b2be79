package cli

import "github.com/spf13/cobra"

// newK8sCmd is the parent of the Kubernetes commands; each subcommand
// adds itself below, one line each.
func newK8sCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s <command>",
		Short: "Kubernetes: the agent's manifests, workload patching and checking, the node agent, fleet events",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.GroupID = "host"
	for _, c := range []*cobra.Command{
		newK8sManifestsCmd(f, nil),
		newK8sPatchCmd(f, nil),
		newK8sCheckCmd(f, nil),
		newK8sAgentCmd(f, nil),
		newK8sEventsCmd(f, nil),
	} {
		cmd.AddCommand(c)
	}
	return cmd
}
