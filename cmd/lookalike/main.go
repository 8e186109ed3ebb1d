// Command lookalike trains image hashing models, encodes and indexes
// images, searches them and evaluates retrieval quality.
//
// Run "lookalike help" for the commands and "lookalike COMMAND --help" for
// each one's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/modelfile"
)

// Exit codes, mapped from errors in one place (exitCode).
const (
	exitOK        = 0
	exitFailure   = 1
	exitBadInput  = 2
	exitCancelled = 130
)

// runFunc runs a command with its remaining arguments, writing results to
// out and messages to errw.
type runFunc func(ctx context.Context, args []string, out, errw io.Writer) error

// command is one subcommand, in the shape of cmd/go's base.Command.
type command struct {
	Name  string
	Usage string
	Short string
	Long  string
	// Flags registers the command's flags and returns the function that
	// runs it with the remaining arguments.
	Flags func(fs *flag.FlagSet) runFunc
}

var commands = map[string]*command{}

func register(c *command) { commands[c.Name] = c }

// inputError marks an error caused by the user's input (flags, files):
// exit status 2.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error { return inputError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line; it is main without the process around it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printHelp(stdout, c)
				return exitOK
			}
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "lookalike: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitBadInput
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.Flags(fs)
	// Flags may come before, between or after the positional arguments
	// ("bench index --n 1000", "search IMAGE --k 5").
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(stdout, c)
				return exitOK
			}
			fmt.Fprintf(stderr, "lookalike %s: %v\nrun 'lookalike %s --help' for usage\n", c.Name, err, c.Name)
			return exitBadInput
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	err := runFn(ctx, positional, stdout, stderr)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "lookalike %s: %v\n", c.Name, err)
	if errors.Is(err, dataset.ErrNotFound) {
		fmt.Fprintf(stderr, "the dataset is missing: %s\n", dataset.InstallHint)
	}
	return code
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ie inputError
	var fe *dataset.FormatError
	switch {
	case errors.Is(err, context.Canceled):
		return exitCancelled
	case errors.As(err, &ie), errors.As(err, &fe),
		errors.Is(err, dataset.ErrNotFound), errors.Is(err, os.ErrNotExist),
		errors.Is(err, modelfile.ErrInvalid), errors.Is(err, modelfile.ErrVersionMismatch),
		errors.Is(err, modelfile.ErrChecksum), errors.Is(err, modelfile.ErrTruncated),
		errors.Is(err, codes.ErrInvalid), errors.Is(err, codes.ErrVersionMismatch),
		errors.Is(err, codes.ErrChecksum), errors.Is(err, codes.ErrTruncated):
		return exitBadInput
	}
	return exitFailure
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "lookalike: image retrieval with deep hashing\n\nUsage:\n\n\tlookalike COMMAND [flags] [args]\n\nCommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "\t%-8s %s\n", n, commands[n].Short)
	}
	fmt.Fprintln(w, "\nRun 'lookalike COMMAND --help' for a command's flags.")
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: lookalike %s\n\n%s\n\n%s\n", c.Usage, c.Short, strings.TrimSpace(c.Long))
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	c.Flags(fs)
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nEXIT STATUS\n  0 success, 1 failure, 2 bad input (flags, missing or corrupt files), 130 interrupted.")
}
