package httpx

// LocalPath returns target when it is a path on this site, and fallback
// otherwise. Every redirect to a place a request names (next=, return=)
// goes through it. Accepted: one leading '/', then no '/' or '\' right
// after it (a leading '/' leaves no room for a scheme; browsers read "//host" and "/\host" as another site), no
// backslash anywhere, no control characters, tabs or spaces (browsers strip
// some of them, which can turn "/\t/host" into "//host").
func LocalPath(target, fallback string) string {
	if len(target) == 0 || len(target) > 2048 || target[0] != '/' {
		return fallback
	}
	if len(target) > 1 && (target[1] == '/' || target[1] == '\\') {
		return fallback
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return fallback
		}
	}
	return target
}
