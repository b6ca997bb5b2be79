//go:build !unix

package agent

import (
	"context"
	"os"
)

func (a *Agent) lockState(context.Context) (*os.File, error) { return nil, nil }
