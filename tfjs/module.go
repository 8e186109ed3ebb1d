package tfjs

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// The npm packages that ship TF.js models for bundlers wrap each file of
// the model in a minified CommonJS module (browserify's wrapper): the model
// JSON becomes a JavaScript object literal assigned to e.exports, and each
// binary weight shard a base64 string assigned the same way.

var exportsAssign = regexp.MustCompile(`[A-Za-z_$][A-Za-z0-9_$]*\.exports=["{]`)

// moduleExport returns the source text of the value a wrapped module
// assigns to its exports: an object literal or a string literal.
func moduleExport(src []byte) ([]byte, error) {
	loc := exportsAssign.FindIndex(src)
	if loc == nil {
		return nil, errors.New("no exported object or string found")
	}
	start := loc[1] - 1
	end, err := literalEnd(src, start)
	if err != nil {
		return nil, err
	}
	return src[start:end], nil
}

// literalEnd returns the index just past the JavaScript object or string
// literal that starts at src[start].
func literalEnd(src []byte, start int) (int, error) {
	if src[start] == '"' {
		return stringEnd(src, start)
	}
	depth := 0
	for i := start; i < len(src); i++ {
		switch src[i] {
		case '"', '\'':
			end, err := stringEnd(src, i)
			if err != nil {
				return 0, err
			}
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("unterminated object literal")
}

// stringEnd returns the index just past the quoted string at src[start].
func stringEnd(src []byte, start int) (int, error) {
	quote := src[start]
	for i := start + 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case quote:
			return i + 1, nil
		}
	}
	return 0, errors.New("unterminated string literal")
}

// literalJSON rewrites a JavaScript object literal of the kind minifiers
// write for JSON data (unquoted keys, !0 and !1 for true and false, numbers
// such as .5) as JSON.
func literalJSON(src []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(src) + len(src)/8)
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case ch == '"':
			end, err := stringEnd(src, i)
			if err != nil {
				return nil, err
			}
			out.Write(src[i:end])
			i = end
		case ch == '\'':
			end, err := stringEnd(src, i)
			if err != nil {
				return nil, err
			}
			body := bytes.ReplaceAll(src[i+1:end-1], []byte(`\'`), []byte(`'`))
			body = bytes.ReplaceAll(body, []byte(`"`), []byte(`\"`))
			s, err := strconv.Unquote(`"` + string(body) + `"`)
			if err != nil {
				return nil, fmt.Errorf("string at %d: %w", i, err)
			}
			out.WriteString(strconv.Quote(s))
			i = end
		case ch == '!' && i+1 < len(src) && (src[i+1] == '0' || src[i+1] == '1'):
			if src[i+1] == '0' {
				out.WriteString("true")
			} else {
				out.WriteString("false")
			}
			i += 2
		case isIdentStart(ch):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			word := string(src[i:j])
			k := j
			for k < len(src) && (src[k] == ' ' || src[k] == '\n' || src[k] == '\t' || src[k] == '\r') {
				k++
			}
			switch {
			case k < len(src) && src[k] == ':':
				out.WriteString(strconv.Quote(word))
			case word == "true" || word == "false" || word == "null":
				out.WriteString(word)
			default:
				return nil, fmt.Errorf("unexpected identifier %q at %d", word, i)
			}
			i = j
		case ch == '-' || ch == '.' || ch >= '0' && ch <= '9':
			// A number; .5 and -.5 are JavaScript numbers, not JSON ones.
			j := i
			if src[j] == '-' {
				out.WriteByte('-')
				j++
			}
			if j < len(src) && src[j] == '.' {
				out.WriteByte('0')
			}
			k := j
			for k < len(src) && isNumberPart(src[k]) {
				k++
			}
			out.Write(src[j:k])
			i = k
		default:
			out.WriteByte(ch)
			i++
		}
	}
	return out.Bytes(), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isNumberPart(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// unwrapJSON returns the JSON of a wrapped model file, or src itself when
// it is plain JSON already.
func unwrapJSON(src []byte) ([]byte, error) {
	if t := bytes.TrimSpace(src); len(t) > 0 && t[0] == '{' {
		return t, nil
	}
	lit, err := moduleExport(src)
	if err != nil {
		return nil, err
	}
	if lit[0] != '{' {
		return nil, errors.New("the module exports a string, not a model")
	}
	return literalJSON(lit)
}

// unwrapShard returns the bytes of a wrapped weight shard: the module
// exports them as one base64 string.
func unwrapShard(src []byte) ([]byte, error) {
	lit, err := moduleExport(src)
	if err != nil {
		return nil, err
	}
	if lit[0] != '"' {
		return nil, errors.New("the module exports an object, not a base64 string")
	}
	data, err := base64.StdEncoding.DecodeString(string(lit[1 : len(lit)-1]))
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return data, nil
}
