// The pod sandbox ("pause") process of the test node (scripts/control-plane.sh up --node):
// it holds the pod's namespaces until the kubelet stops the sandbox. As PID 1 of a pod that
// shares its process namespace it also reaps orphaned children, which is all Kubernetes'
// own pause.c does. Built static (CGO_ENABLED=0) into an image with nothing else in it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("steward pause\n")
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
