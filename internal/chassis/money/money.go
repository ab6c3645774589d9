// Package money writes amounts the way people read them: fen as yuan with
// thousands separators, ¥30,000.00.
package money

import (
	"strconv"
	"strings"
)

// Yuan writes fen as ¥1,234.50 (-¥7.62 below zero).
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	whole := strconv.FormatInt(fen/100, 10)
	var b strings.Builder
	b.WriteString(sign + "¥")
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	cents := fen % 100
	b.WriteByte('.')
	b.WriteByte(byte('0' + cents/10))
	b.WriteByte(byte('0' + cents%10))
	return b.String()
}
