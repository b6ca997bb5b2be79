package cli

// Factory carries what commands share. Fields that touch the system are
// lazy funcs, so commands such as fmt and check never read /sys.
type Factory struct {
	IO *IOStreams
}

// NewFactory returns the factory for a real process.
func NewFactory() *Factory {
	return &Factory{IO: System()}
}
