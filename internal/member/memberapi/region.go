package memberapi

import "golang.org/x/text/language"

// DefaultRegion is an address's region when none is given: mainland China.
const DefaultRegion = "CN"

// ValidRegion reports whether code names a shipping region: CN (mainland
// China), HK, MO, TW or another ISO 3166-1 alpha-2 country code, in upper
// case.
func ValidRegion(code string) bool {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}
