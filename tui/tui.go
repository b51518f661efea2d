// Package tui is the full-screen terminal UI of the Smartcard Service
// Centre kiosk (seed 004): a root model that follows the card reader and
// routes between one model per screen (package screens), built from
// shared components and one theme.
//
// The tui drives the domain only: workflow calls run in tea.Cmds and come
// back as messages tagged with the visit they belong to, and card events
// arrive as messages from the readers' event channel.
package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
)

// DefaultIdleTimeout is how long a screen waits for a key before it
// clears itself and returns to the start.
const DefaultIdleTimeout = 120 * time.Second

// MinIdleTimeout is the shortest idle timeout: the last 30 s of it are
// the countdown, and a screen needs as long again to be read and answered.
const MinIdleTimeout = 2 * countdownFrom

// MinWidth and MinHeight are the smallest terminal the kiosk draws in.
const (
	MinWidth  = 60
	MinHeight = 20
)

// Options configure the kiosk UI.
type Options struct {
	Service *selfservice.Service
	Readers domain.CardReaders

	// IdleTimeout returns an idle screen to the start and wipes it;
	// 0 means DefaultIdleTimeout, else at least MinIdleTimeout. A
	// countdown shows in the status bar for the last 30 s.
	IdleTimeout time.Duration
	// AllowExit lets Ctrl+C quit (development only): the public must not
	// be able to leave the kiosk.
	AllowExit bool
	// Now tells the time (tests pass a fake clock); nil: time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Context ends the card event subscription and every domain call;
	// nil: context.Background(). NewProgram ends them when the program
	// ends, too.
	Context context.Context

	// Shorter timings for tests (see export_test.go); 0: the defaults.
	callTimeout  time.Duration // common.CallTimeout
	readerRetry  time.Duration // readerRetry
	deliveryPoll time.Duration // deliveryPoll
	pingEvery    time.Duration // common.DefaultPingEvery
	pingAway     time.Duration // common.DefaultPingAway
	retryBase    time.Duration // common.DefaultRetryBase
}

// Validate reports options the kiosk cannot run without.
func (o Options) Validate() error {
	var errs []error
	if o.Service == nil {
		errs = append(errs, errors.New("no self-service workflow service"))
	}
	if o.Readers == nil {
		errs = append(errs, errors.New("no card readers"))
	}
	if o.IdleTimeout != 0 && o.IdleTimeout < MinIdleTimeout {
		errs = append(errs, fmt.Errorf("idle timeout %s is shorter than %s", o.IdleTimeout, MinIdleTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kiosk ui options: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.readerRetry <= 0 {
		o.readerRetry = readerRetry
	}
	if o.deliveryPoll <= 0 {
		o.deliveryPoll = deliveryPoll
	}
	return o
}

// ProgramOptions are the tea.Program options the kiosk needs: an
// interrupt (SIGINT, which arrives as a message when input is not a
// terminal) and suspend never end or stop the program unless AllowExit.
// SIGTERM still stops it, for whoever runs the kiosk.
func ProgramOptions(o Options) []tea.ProgramOption {
	allow := o.AllowExit
	return []tea.ProgramOption{tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
		switch msg.(type) {
		case tea.InterruptMsg:
			if !allow {
				return nil
			}
		case tea.SuspendMsg:
			return nil
		}
		return msg
	})}
}

// Wrap builds a program's model around the kiosk's, e.g. to lay panels
// beside it. ctx ends when the program does. The model it returns must
// pass the kiosk every message it does not take itself, Init and window
// sizes included (the size the kiosk may draw in).
type Wrap func(ctx context.Context, kiosk *Model) tea.Model

// NewProgram returns the kiosk program on the terminal (or the input and
// output given in extra), in the alternate screen. The card event
// subscription and the domain calls end when the program ends (or
// o.Context does, if set).
func NewProgram(o Options, extra ...tea.ProgramOption) *tea.Program {
	p, _, _ := newProgram(o, nil, extra...)
	return p
}

// newProgram is NewProgram with the model wrap builds around the kiosk
// (nil: the kiosk alone), also returning the kiosk's model and the cancel
// of the program's context.
func newProgram(o Options, wrap Wrap, extra ...tea.ProgramOption) (*tea.Program, *Model, context.CancelFunc) {
	parent := o.Context
	if parent == nil {
		parent = context.Background()
	}
	// The program's own context: without it, the subscription to the
	// reader's events (and any call running) would outlive the program.
	ctx, cancel := context.WithCancel(parent)
	o.Context = ctx
	m := New(o)
	var top tea.Model = m
	if wrap != nil {
		top = wrap(ctx, m)
	}
	opts := append(ProgramOptions(o), tea.WithContext(ctx))
	p := tea.NewProgram(top, append(opts, extra...)...)
	// Wait works once Run has begun, which is when Run calls Init.
	m.onRun = func() {
		go func() {
			p.Wait()
			cancel()
		}()
	}
	return p, m, cancel
}

// Run runs the kiosk until ctx ends (or Ctrl+C with AllowExit). Before it
// returns it ends the visit and waits (up to 12 s) for domain calls still
// running, so the caller may then close the store under none of them.
func Run(ctx context.Context, o Options, extra ...tea.ProgramOption) error {
	return RunWrapped(ctx, o, nil, extra...)
}

// RunWrapped is Run with the program's model built by wrap around the
// kiosk's (nil: the kiosk alone). The kiosk's lifecycle is Run's: the
// same idle timeout, card events, Ctrl+C and shutdown.
func RunWrapped(ctx context.Context, o Options, wrap Wrap, extra ...tea.ProgramOption) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.Context = ctx
	p, m, stop := newProgram(o, wrap, extra...)
	_, err := p.Run()
	stop() // calls still running give up, or record what they did
	m.shutdown(shutdownWait)
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // asked to stop
	}
	if err != nil {
		return fmt.Errorf("run kiosk ui: %w", err)
	}
	return nil
}
