// Scalar rules shared by the codec's reader and writers: YAML 1.1 typing of plain scalars
// (as go-yaml, which Kubernetes uses), RFC 3339 times, and message quoting.
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "api/codec_internal.h"
#include "fmt/format.h"

namespace orch::api::codec_internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool OneOf(std::string_view text, std::initializer_list<std::string_view> words) {
  for (std::string_view word : words) {
    if (text == word) return true;
  }
  return false;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Go's strconv.ParseInt(text, 0, 64) grammar, widened to the uint64 range: optional sign,
// then 0x / 0o / 0b / leading-0 octal / decimal digits.
bool ParseYamlInt(std::string_view text, PlainValue& out) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::string_view body = text.substr(i);
  if (body.empty()) return false;
  int base = 10;
  std::string_view digits = body;
  if (body.size() >= 2 && body[0] == '0') {
    char prefix = body[1];
    if (prefix == 'x' || prefix == 'X') {
      base = 16, digits = body.substr(2);
    } else if (prefix == 'o' || prefix == 'O') {
      base = 8, digits = body.substr(2);
    } else if (prefix == 'b' || prefix == 'B') {
      base = 2, digits = body.substr(2);
    } else {
      base = 8, digits = body.substr(1);
    }
  }
  if (digits.empty()) return false;
  unsigned __int128 magnitude = 0;
  bool overflow = false;
  for (char c : digits) {
    int digit = DigitValue(c);
    if (digit >= base) return false;
    if (!overflow) {
      magnitude = magnitude * base + digit;
      overflow = magnitude > std::numeric_limits<uint64_t>::max();
    }
  }
  out.type = PlainValue::Type::kInt;
  out.int_negative = negative && magnitude != 0;
  out.int_overflow = overflow;
  out.int_magnitude = overflow ? 0 : static_cast<uint64_t>(magnitude);
  double value = static_cast<double>(magnitude);
  out.float_value = out.int_negative ? -value : value;
  return true;
}

// go-yaml's yamlStyleFloat: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsYamlFloat(std::string_view text) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < text.size() && text[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

// Whether a decimal float literal that from_chars found out of range is huge (rather than
// tiny): estimates its base-10 exponent from the digits and the exponent part.
bool IsHugeLiteral(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  while (i < text.size() && text[i] == '0') ++i;
  int64_t magnitude = 0;  // ~log10 of the value, before the exponent part
  if (i < text.size() && IsDigit(text[i])) {
    while (i < text.size() && IsDigit(text[i])) ++i, ++magnitude;
  } else {
    if (i < text.size() && text[i] == '.') ++i;
    while (i < text.size() && text[i] == '0') ++i, --magnitude;
    --magnitude;
  }
  std::size_t e = text.find_first_of("eE");
  int64_t exponent = 0;
  if (e != std::string_view::npos) {
    std::size_t k = e + 1;
    bool negative = k < text.size() && text[k] == '-';
    if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
    for (; k < text.size() && exponent < 1'000'000; ++k) exponent = exponent * 10 + (text[k] - '0');
    if (negative) exponent = -exponent;
  }
  return magnitude + exponent > 0;
}

double ParseDouble(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    // Overflow becomes infinite (rejected later, as not finite); underflow becomes zero.
    if (!IsHugeLiteral(text)) return 0.0;
    double inf = std::numeric_limits<double>::infinity();
    return text.front() == '-' ? -inf : inf;
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Calendar arithmetic for timestamps (proleptic Gregorian, as RFC 3339 and Go).

bool IsLeapYear(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to year-month-day (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct Civil {
  int64_t year;
  int month;
  int day;
};

Civil CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Civil{year_of_era + era * 400 + (month <= 2), month, day};
}

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

// Reads exactly `count` digits at `pos`.
bool ReadDigits(std::string_view text, std::size_t& pos, int count, int64_t& value) {
  if (pos + count > text.size()) return false;
  value = 0;
  for (int i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!IsDigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool Expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

PlainValue ResolvePlain(std::string_view text) {
  PlainValue value;
  if (OneOf(text, {"", "~", "null", "Null", "NULL"})) {
    value.type = PlainValue::Type::kNull;
    return value;
  }
  if (OneOf(text, {"true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})) {
    value.type = PlainValue::Type::kBool;
    value.bool_value = true;
    return value;
  }
  if (OneOf(text, {"false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF"})) {
    value.type = PlainValue::Type::kBool;
    return value;
  }
  const char first = text.front();
  if (!(IsDigit(first) || first == '+' || first == '-' || first == '.')) return value;

  if (OneOf(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    value.type = PlainValue::Type::kFloat;
    value.float_value = std::numeric_limits<double>::infinity();
    value.number_text = std::string(text);
    return value;
  }
  if (OneOf(text, {"-.inf", "-.Inf", "-.INF"})) {
    value.type = PlainValue::Type::kFloat;
    value.float_value = -std::numeric_limits<double>::infinity();
    value.number_text = std::string(text);
    return value;
  }
  if (OneOf(text, {".nan", ".NaN", ".NAN"})) {
    value.type = PlainValue::Type::kFloat;
    value.float_value = std::numeric_limits<double>::quiet_NaN();
    value.number_text = std::string(text);
    return value;
  }

  std::string number;
  number.reserve(text.size());
  for (char c : text) {
    if (c != '_') number.push_back(c);
  }
  if (ParseYamlInt(number, value)) {
    value.number_text = std::move(number);
    return value;
  }
  if (IsYamlFloat(number)) {
    value.type = PlainValue::Type::kFloat;
    value.float_value = ParseDouble(number);
    value.number_text = std::move(number);
    return value;
  }
  return value;  // a string
}

std::string QuoteForMessage(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string out = "\"";
  std::size_t shown = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // Cut only at a character boundary, so the message stays UTF-8.
    if (shown >= kMaxShown && (c & 0xC0) != 0x80) {
      out += "\"...";
      return out;
    }
    ++shown;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string AbbreviateNumber(std::string_view text) {
  constexpr std::size_t kMaxShown = 40;  // numbers are ASCII
  if (text.size() <= kMaxShown) return std::string(text);
  return fmt::format("{}... ({} characters)", text.substr(0, kMaxShown), text.size());
}

std::string DescribeNode(const Node& node) {
  switch (node.type) {
    case Node::Type::kNull: return "null";
    case Node::Type::kSequence: return "array";
    case Node::Type::kMapping: return "object";
    case Node::Type::kScalar: break;
  }
  if (!node.plain) return "string " + QuoteForMessage(node.text);
  switch (ResolvePlain(node.text).type) {
    case PlainValue::Type::kNull: return "null";
    case PlainValue::Type::kBool: return "boolean " + node.text;
    case PlainValue::Type::kInt:
    case PlainValue::Type::kFloat: return "number " + AbbreviateNumber(node.text);
    case PlainValue::Type::kString: break;
  }
  return "string " + QuoteForMessage(node.text);
}

std::optional<TimestampValue> ParseRfc3339(std::string_view text) {
  std::size_t pos = 0;
  int64_t year, month, day, hour, minute, second;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day) || !Expect(text, pos, 'T') ||
      !ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<int>(month)) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  int32_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (++digits > 9) return std::nullopt;
      nanos = nanos * 10 + (text[pos++] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 9; ++k) nanos *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos++] == '-' ? -1 : 1;
    int64_t offset_hours, offset_minutes;
    if (!ReadDigits(text, pos, 2, offset_hours) || !Expect(text, pos, ':') ||
        !ReadDigits(text, pos, 2, offset_minutes) || offset_hours > 23 ||
        offset_minutes > 59) {
      return std::nullopt;
    }
    offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const int64_t seconds = DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day)) *
                              86400 +
                          hour * 3600 + minute * 60 + second - offset_seconds;
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return std::nullopt;
  return TimestampValue{seconds, nanos};
}

std::optional<std::string> FormatRfc3339(int64_t seconds, int32_t nanos) {
  if (seconds < kMinSeconds || seconds > kMaxSeconds || nanos < 0 || nanos > 999'999'999) {
    return std::nullopt;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  const Civil date = CivilFromDays(days);
  std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", date.year, date.month,
                                 date.day, second_of_day / 3600, second_of_day / 60 % 60,
                                 second_of_day % 60);
  if (nanos % 1000 != 0) {
    text += fmt::format(".{:09}", nanos);
  } else if (nanos != 0) {
    text += fmt::format(".{:06}", nanos / 1000);
  }
  text += 'Z';
  return text;
}

std::string PathKey(std::string_view key) {
  bool simple = !key.empty();
  for (char c : key) {
    if (!(IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
          c == '-')) {
      simple = false;
      break;
    }
  }
  return simple ? fmt::format(".{}", key) : fmt::format("[{}]", key);
}

}  // namespace orch::api::codec_internal
