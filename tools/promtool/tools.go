//go:build tools

// Package tools pins promtool's module in go.mod; build.sh builds it.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
