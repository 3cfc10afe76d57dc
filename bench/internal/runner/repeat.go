package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Repeat runs rep for each of reps repetitions, marking each in logFile.
// rep returns the repetition's error; measured, called for each one without
// an error, logs what it measured. Repeat stops with ctx's error as soon as
// ctx is done; otherwise it returns the failed repetitions in words, empty
// when there were none.
func Repeat(ctx context.Context, reps int, logFile io.Writer, log *slog.Logger, rep func(i int) error, measured func(i int)) (string, error) {
	var failures []string
	for i := range reps {
		fmt.Fprintf(logFile, "=== repetition %d of %d ===\n", i+1, reps)
		err := rep(i)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("repetition %d: %v", i+1, err))
			log.Error("repetition failed", "rep", i+1, "err", err)
		} else {
			measured(i)
		}
	}
	return strings.Join(failures, "; "), nil
}

// Conclude ends a run that produced a result whose Failure field is
// failure, runErr being what measuring returned: unless ctx was
// interrupted, it records runErr as the failure if none is set yet, writes
// the reports (summarizing first) and logs where they went with the
// attributes logAttrs gives (nil for none). It returns runErr when there
// is one, else an error when the run failed.
func Conclude(ctx context.Context, log *slog.Logger, out string, failure *string, runErr error, write func() error, logAttrs func() []any) error {
	if ctx.Err() != nil {
		// Interrupted: keep whatever report a complete earlier run left.
		return fmt.Errorf("interrupted; everything stopped, no report written: %w", runErr)
	}
	if runErr != nil && *failure == "" {
		*failure = runErr.Error()
	}
	if err := write(); err != nil {
		return errors.Join(runErr, err)
	}
	attrs := []any{"json", out + ".json", "md", out + ".md"}
	if logAttrs != nil {
		attrs = append(attrs, logAttrs()...)
	}
	log.Info("reports written", attrs...)
	if runErr != nil {
		return runErr
	}
	if *failure != "" {
		return errors.New(*failure)
	}
	return nil
}
