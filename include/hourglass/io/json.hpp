// hg::io::json: a small JSON value for checkpoint headers. Null, booleans, exact int64 integers,
// other numbers as double, UTF-8 strings, arrays, and objects that keep their keys in insertion
// order (so dump(parse(t)) gives back t for compact text written here).
// dump() writes compact text (no whitespace); doubles in the shortest form that reads back to the same
// bits, always with a '.' or an exponent so they stay doubles; a NaN or infinity is a value_error
// (JSON has no spelling for them). parse() follows RFC 8259 strictly (no comments, no trailing
// commas, no leading zeros, no duplicate keys, strings in valid UTF-8, nesting at most 256 deep)
// and reports malformed text as hg::format_error with the byte offset and the reason (a key in a
// message is quoted escaped, hg::quoted). Numbers: an integer literal outside int64 is read as a
// double; a number too small for a double (1e-400) is read as zero of its sign, which RFC 8259
// section 6 allows and every IEEE parser does; one too large (1e400) is refused, since a double
// could only hold it as an infinity that JSON cannot write back. Reading a value as the wrong type
// is a format_error naming both types.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/quote.hpp"

namespace hg::io {

class json {
public:
    enum class kind { null, boolean, integer, number, string, array, object };
    using array_type = std::vector<json>;
    using object_type = std::vector<std::pair<std::string, json>>;

    json() = default;
    json(std::nullptr_t) {}
    json(bool b) : v_(b) {}
    template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
    json(I i) : v_(std::int64_t(i)) {
        if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t))
            if (i > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                throw value_error("json: the integer " + std::to_string(i) + " does not fit in int64");
    }
    template <class F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
    json(F x) : v_(double(x)) {}
    json(const char* s) : v_(std::string(s)) {}
    json(std::string s) : v_(std::move(s)) {}
    json(std::string_view s) : v_(std::string(s)) {}
    json(array_type a) : v_(std::move(a)) {}
    json(object_type o) : v_(std::move(o)) {}

    static json array(std::initializer_list<json> items = {}) { return json(array_type(items)); }
    static json object() { return json(object_type{}); }

    kind type() const { return static_cast<kind>(v_.index()); }
    bool is_null() const { return type() == kind::null; }
    bool is_bool() const { return type() == kind::boolean; }
    bool is_int() const { return type() == kind::integer; }
    bool is_number() const { return type() == kind::integer || type() == kind::number; }
    bool is_string() const { return type() == kind::string; }
    bool is_array() const { return type() == kind::array; }
    bool is_object() const { return type() == kind::object; }

    bool as_bool() const { return get<bool>(kind::boolean); }
    /// An integer, or a double with an integral value inside int64.
    std::int64_t as_int() const {
        if (is_int()) return std::get<std::int64_t>(v_);
        const double d = get<double>(kind::integer);
        if (d != std::floor(d) || !(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            throw format_error("json: expected an integer, found the number " + dump());
        return std::int64_t(d);
    }
    double as_double() const { return is_int() ? double(std::get<std::int64_t>(v_)) : get<double>(kind::number); }
    const std::string& as_string() const { return get<std::string>(kind::string); }
    const array_type& as_array() const { return get<array_type>(kind::array); }
    array_type& as_array() { return const_cast<array_type&>(std::as_const(*this).as_array()); }
    const object_type& as_object() const { return get<object_type>(kind::object); }
    object_type& as_object() { return const_cast<object_type&>(std::as_const(*this).as_object()); }

    /// Elements of an array or members of an object.
    std::size_t size() const { return is_array() ? as_array().size() : as_object().size(); }

    /// The member `key`, added as null when missing (a null value becomes an empty object first).
    json& operator[](const std::string& key) {
        if (is_null()) v_ = object_type{};
        for (auto& [k, v] : as_object())
            if (k == key) return v;
        return as_object().emplace_back(key, json()).second;
    }
    /// The member `key`, or nullptr when there is none.
    const json* find(const std::string& key) const {
        for (const auto& [k, v] : as_object())
            if (k == key) return &v;
        return nullptr;
    }
    bool contains(const std::string& key) const { return find(key) != nullptr; }
    /// The member `key`; a format_error naming it when missing.
    const json& at(const std::string& key) const {
        if (const json* v = find(key)) return *v;
        throw format_error("json: the object has no member \"" + key + "\"");
    }
    const json& at(std::size_t i) const {
        if (i >= as_array().size())
            throw format_error("json: index " + std::to_string(i) + " is outside an array of " +
                               std::to_string(as_array().size()) + " elements");
        return as_array()[i];
    }
    /// Appends to an array (a null value becomes an empty array first).
    void push_back(json v) {
        if (is_null()) v_ = array_type{};
        as_array().push_back(std::move(v));
    }

    friend bool operator==(const json& a, const json& b) { return a.v_ == b.v_; }
    friend bool operator!=(const json& a, const json& b) { return !(a == b); }

    /// Compact text; value_error for a NaN or infinite number.
    std::string dump() const {
        std::string out;
        write(out);
        return out;
    }

    /// Parses `text` (one value, surrounded by optional whitespace); format_error when malformed.
    static json parse(std::string_view text) {
        parser p{text};
        json v = p.value(0);
        p.skip_space();
        if (p.pos != text.size()) p.fail("unexpected text after the value");
        return v;
    }

    static const char* kind_name(kind k) {
        static const char* const names[] = {"null", "boolean", "integer", "number", "string", "array", "object"};
        return names[static_cast<int>(k)];
    }

private:
    static constexpr char hex[] = "0123456789abcdef";

    template <class T>
    const T& get(kind wanted) const {
        if (const T* p = std::get_if<T>(&v_)) return *p;
        auto article = [](kind k) { return k == kind::integer || k == kind::array || k == kind::object ? "an " : "a "; };
        throw format_error(std::string("json: expected ") + article(wanted) + kind_name(wanted) + ", found " +
                           article(type()) + kind_name(type()));
    }

    static void write_string(std::string& out, const std::string& s) {
        out += '"';
        for (const char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    if (c < 0x20) {
                        out += "\\u00";
                        out += hex[c >> 4];
                        out += hex[c & 15];
                    } else {
                        out += ch;  // UTF-8 passes through unchanged
                    }
            }
        }
        out += '"';
    }

    void write(std::string& out) const {
        switch (type()) {
            case kind::null: out += "null"; break;
            case kind::boolean: out += std::get<bool>(v_) ? "true" : "false"; break;
            case kind::integer: out += std::to_string(std::get<std::int64_t>(v_)); break;
            case kind::number: {
                const double d = std::get<double>(v_);
                if (!std::isfinite(d)) throw value_error("json: cannot write the non-finite number " + std::to_string(d));
                char buf[32];
                const auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back exactly
                const std::string_view t(buf, std::size_t(r.ptr - buf));
                out += t;
                if (t.find_first_of(".e") == std::string_view::npos) out += ".0";  // stays a double when read
                break;
            }
            case kind::string: write_string(out, std::get<std::string>(v_)); break;
            case kind::array: {
                const auto& a = std::get<array_type>(v_);
                out += '[';
                for (std::size_t i = 0; i < a.size(); ++i) {
                    if (i) out += ',';
                    a[i].write(out);
                }
                out += ']';
                break;
            }
            case kind::object: {
                const auto& o = std::get<object_type>(v_);
                out += '{';
                for (std::size_t i = 0; i < o.size(); ++i) {
                    if (i) out += ',';
                    write_string(out, o[i].first);
                    out += ':';
                    o[i].second.write(out);
                }
                out += '}';
                break;
            }
        }
    }

    struct parser {
        std::string_view s;
        std::size_t pos = 0;
        static constexpr int max_depth = 256;

        [[noreturn]] void fail(const std::string& reason) const {
            throw format_error("json: " + reason + " at byte " + std::to_string(pos));
        }
        bool at_end() const { return pos >= s.size(); }
        char peek() const { return s[pos]; }
        void skip_space() {
            while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos;
        }
        void expect(char c, const char* what) {
            skip_space();
            if (at_end() || peek() != c) fail(std::string("expected ") + what + ", found " + describe_here());
            ++pos;
        }
        std::string describe_here() const {
            if (at_end()) return "the end of the text";
            const auto c = static_cast<unsigned char>(peek());
            if (c >= 0x20 && c < 0x7F) return std::string("'") + char(c) + "'";
            return std::string("the byte 0x") + hex[c >> 4] + hex[c & 15];
        }
        json value(int depth) {
            skip_space();
            if (at_end()) fail("unexpected end of the text, expected a value");
            if (depth >= max_depth) fail("nesting deeper than " + std::to_string(max_depth) + " levels");
            const char c = peek();
            if (c == '{') return object(depth);
            if (c == '[') return array(depth);
            if (c == '"') return json(string());
            if (c == '-' || (c >= '0' && c <= '9')) return number();
            if (literal("true")) return json(true);
            if (literal("false")) return json(false);
            if (literal("null")) return json();
            fail("unexpected " + describe_here() + ", expected a value");
        }
        bool literal(std::string_view word) {
            if (s.substr(pos, word.size()) != word) return false;
            pos += word.size();
            return true;
        }
        json object(int depth) {
            ++pos;  // '{'
            json out = json::object();
            std::set<std::string> seen;
            skip_space();
            if (!at_end() && peek() == '}') return ++pos, out;
            while (true) {
                skip_space();
                if (at_end() || peek() != '"') fail("expected a string key in an object, found " + describe_here());
                const std::size_t key_pos = pos;
                std::string key = string();
                if (!seen.insert(key).second) {
                    pos = key_pos;
                    fail("duplicate key " + hg::quoted(key, '"'));
                }
                expect(':', "':' after an object key");
                json v = value(depth + 1);
                out.as_object().emplace_back(std::move(key), std::move(v));
                skip_space();
                if (!at_end() && peek() == '}') return ++pos, out;
                if (at_end() || peek() != ',') fail("expected ',' or '}' in an object, found " + describe_here());
                ++pos;
            }
        }
        json array(int depth) {
            ++pos;  // '['
            json out = json::array();
            skip_space();
            if (!at_end() && peek() == ']') return ++pos, out;
            while (true) {
                out.as_array().push_back(value(depth + 1));
                skip_space();
                if (!at_end() && peek() == ']') return ++pos, out;
                if (at_end() || peek() != ',') fail("expected ',' or ']' in an array, found " + describe_here());
                ++pos;
            }
        }
        unsigned hex4() {
            if (s.size() - pos < 4) fail("truncated \\u escape");
            unsigned v = 0;
            for (int i = 0; i < 4; ++i, ++pos) {
                const char c = peek();
                const char l = char(c | 0x20);  // letters in lower case
                const int d = c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
                if (d < 0) fail("invalid hexadecimal digit " + describe_here() + " in a \\u escape");
                v = v * 16 + unsigned(d);
            }
            return v;
        }
        static void put_utf8(std::string& out, unsigned cp) {
            const int extra = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
            static const unsigned lead[] = {0x00, 0xC0, 0xE0, 0xF0};
            out += char(lead[extra] | (cp >> (6 * extra)));
            for (int k = extra - 1; k >= 0; --k) out += char(0x80 | ((cp >> (6 * k)) & 0x3F));
        }
        std::string string() {
            ++pos;  // '"'
            std::string out;
            while (true) {
                if (at_end()) fail("unterminated string");
                const char c = peek();
                if (c == '"') return ++pos, out;
                if (static_cast<unsigned char>(c) < 0x20)
                    fail("unescaped control character " + describe_here() + " in a string");
                if (c != '\\') {
                    // RFC 8259 section 8.1: the text is UTF-8. A byte that does not start a valid
                    // sequence (a stray continuation, an overlong form, a surrogate, past U+10FFFF)
                    // is refused, so every string read here is valid UTF-8.
                    const std::size_t n = quote_detail::utf8_sequence(s, pos);
                    if (n == 0) fail("invalid UTF-8 (" + describe_here() + ") in a string");
                    out.append(s.substr(pos, n));
                    pos += n;
                    continue;
                }
                if (++pos >= s.size()) fail("unterminated escape in a string");
                const char e = peek();
                if (std::string_view("\"\\/bfnrtu").find(e) == std::string_view::npos)
                    fail("invalid escape character " + describe_here() + " after a backslash in a string");
                ++pos;
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        unsigned cp = hex4();
                        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a low surrogate without a high one in a \\u escape");
                        if (cp >= 0xD800 && cp <= 0xDBFF) {  // UTF-16 pair: \uD83D\uDE00 is one code point
                            if (s.substr(pos, 2) != "\\u") fail("a high surrogate not followed by a \\u low surrogate");
                            pos += 2;
                            const unsigned lo = hex4();
                            if (lo < 0xDC00 || lo > 0xDFFF) fail("a high surrogate not followed by a low surrogate");
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        }
                        put_utf8(out, cp);
                        break;
                    }
                }
            }
        }
        bool digit() const { return !at_end() && peek() >= '0' && peek() <= '9'; }
        /// Whether a number literal (already checked against the grammar) is below 1 in magnitude,
        /// i.e. from_chars found it out of range because it underflows, not because it overflows.
        /// Its decimal exponent is that of the first non-zero digit plus the written exponent.
        static bool underflows(const char* first, const char* last) {
            const char* p = first + (*first == '-');
            long long magnitude = 0;  // decimal exponent of the first non-zero digit, before 'e'
            bool found = false;
            long long int_digits = 0;
            for (; p != last && *p >= '0' && *p <= '9'; ++p) {
                if (found) ++int_digits;
                else if (*p != '0') found = true, int_digits = 1;
            }
            if (found) magnitude = int_digits - 1;
            if (p != last && *p == '.') {
                ++p;
                for (long long k = 1; p != last && *p >= '0' && *p <= '9'; ++p, ++k)
                    if (!found && *p != '0') found = true, magnitude = -k;
            }
            if (!found) return true;  // all zeros: zero
            long long exponent = 0;
            if (p != last && (*p == 'e' || *p == 'E')) {
                ++p;
                const bool negative = *p == '-';
                if (*p == '-' || *p == '+') ++p;
                for (; p != last; ++p) exponent = std::min<long long>(exponent * 10 + (*p - '0'), 1000000000LL);
                if (negative) exponent = -exponent;
            }
            return magnitude + exponent < 0;
        }
        json number() {
            const std::size_t start = pos;
            if (peek() == '-') ++pos;
            if (!digit()) fail("expected a digit after '-'");
            if (peek() == '0' && pos + 1 < s.size() && s[pos + 1] >= '0' && s[pos + 1] <= '9')
                fail("a number with a leading zero");
            while (digit()) ++pos;
            bool integral = true;
            if (!at_end() && peek() == '.') {
                ++pos;
                if (!digit()) fail("expected a digit after the decimal point");
                while (digit()) ++pos;
                integral = false;
            }
            if (!at_end() && (peek() == 'e' || peek() == 'E')) {
                ++pos;
                if (!at_end() && (peek() == '+' || peek() == '-')) ++pos;
                if (!digit()) fail("expected a digit in the exponent");
                while (digit()) ++pos;
                integral = false;
            }
            const char* first = s.data() + start;
            const char* last = s.data() + pos;
            if (integral) {
                std::int64_t i = 0;
                const auto r = std::from_chars(first, last, i);
                if (r.ec == std::errc() && r.ptr == last) return json(i);
            }
            double d = 0;
            const auto r = std::from_chars(first, last, d);
            if (r.ec == std::errc::result_out_of_range && r.ptr == last && underflows(first, last))
                return json(*first == '-' ? -0.0 : 0.0);  // nearer to zero than the least subnormal
            if (r.ec != std::errc() || r.ptr != last) {
                pos = start;
                fail("the number " + std::string(first, last) + " is out of the range of a double");
            }
            return json(d);
        }
    };

    std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, array_type, object_type> v_;
};

}  // namespace hg::io
