package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Help writes the --help text: every setting by group, with its type,
// default and environment variable.
func (s *Set) Help(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [flags]\n\n", s.Command)
	if s.Summary != "" {
		fmt.Fprintf(&b, "%s\n\n", s.Summary)
	}
	b.WriteString("Each setting is read from its flag, else its environment variable, else\n")
	if s.file != nil {
		fmt.Fprintf(&b, "the YAML file named by --%s (name: value), else its default.\n", s.file.Name)
	} else {
		b.WriteString("its default.\n")
	}
	group := "\x00"
	for _, st := range s.settings {
		if st.Group != group {
			group = st.Group
			if group != "" {
				fmt.Fprintf(&b, "\n%s:\n", group)
			} else {
				b.WriteString("\n")
			}
		}
		if st.noFlag {
			fmt.Fprintf(&b, "  %s %s (environment or file only)\n", st.Name, st.Type)
		} else {
			fmt.Fprintf(&b, "  --%s %s\n", st.Name, st.Type)
		}
		fmt.Fprintf(&b, "      %s\n      default: %s   env: %s\n", st.Usage, st.shownDefault(), st.Env)
	}
	io.WriteString(w, b.String())
}

func (st *Setting) shownDefault() string {
	if st.Default == "" {
		return `""`
	}
	return st.Default
}

// Markdown writes the settings as reference tables, one per group.
func (s *Set) Markdown(w io.Writer) {
	var b strings.Builder
	cell := func(t string) string { return strings.ReplaceAll(t, "|", `\|`) }
	group := "\x00"
	for _, st := range s.settings {
		if st.Group != group {
			group = st.Group
			title := group
			if title == "" {
				title = "Other"
			}
			fmt.Fprintf(&b, "\n### %s\n\n| setting | type | default | environment | |\n|---|---|---|---|---|\n", title)
		}
		name := "`--" + st.Name + "`"
		if st.noFlag {
			name = "`" + st.Name + "` (no flag)"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | `%s` | %s |\n", name, st.Type, cell(st.shownDefault()), st.Env, cell(st.Usage))
	}
	io.WriteString(w, b.String())
}

// Generated-block markers in a Markdown page.
const (
	BeginGenerated = "<!-- BEGIN GENERATED SETTINGS: do not edit; regenerate with go generate ./cmd/switchboard -->"
	EndGenerated   = "<!-- END GENERATED SETTINGS -->"
)

// ReplaceGenerated returns page with the text between the generated-block
// markers replaced by the Set's Markdown, and whether that changed it.
func (s *Set) ReplaceGenerated(page []byte) ([]byte, bool, error) {
	begin := bytes.Index(page, []byte(BeginGenerated))
	end := bytes.Index(page, []byte(EndGenerated))
	if begin < 0 || end < begin {
		return nil, false, errors.New("config: page lacks the generated-settings markers, in order")
	}
	var gen bytes.Buffer
	s.Markdown(&gen)
	gen.WriteString("\n")
	head := page[:begin+len(BeginGenerated)+1]
	out := append(append(append([]byte{}, head...), gen.Bytes()...), page[end:]...)
	return out, !bytes.Equal(out, page), nil
}
