#include "orch/api/quantity.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace orch::api {
namespace {

using int128 = __int128;
using uint128 = unsigned __int128;

constexpr int128 kNanosPerUnit = 1'000'000'000;
constexpr int128 kInt128Max = static_cast<int128>(~static_cast<uint128>(0) >> 1);
constexpr int128 kInt128Min = -kInt128Max - 1;
// Kubernetes caps a binarySI quantity at 2^63-1 whole units.
constexpr int128 kBinaryCapNanos =
    static_cast<int128>(std::numeric_limits<int64_t>::max()) * kNanosPerUnit;

constexpr std::string_view kFormatMessage =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr std::string_view kSuffixMessage = "unable to parse quantity's suffix";

absl::Status InvalidQuantity(std::string_view text, std::string_view why) {
  // Echo enough of the text to find it, not a megabyte of it.
  constexpr size_t kMaxEcho = 64;
  const std::string echo = text.size() <= kMaxEcho
                               ? std::string(text)
                               : fmt::format("{}...", text.substr(0, kMaxEcho));
  return absl::InvalidArgumentError(fmt::format("invalid quantity \"{}\": {}", echo, why));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSuffixLetter(char c) {
  return std::string_view("eEinumkKMGTP").find(c) != std::string_view::npos;
}

// The pieces of a quantity's text, split as Kubernetes' parseQuantityString splits them.
struct Parts {
  bool negative = false;
  std::string_view num;     // integer digits, leading zeros stripped
  std::string_view denom;   // fraction digits
  std::string_view suffix;  // everything after the number
};

// False when the text cannot be a quantity at all (the "must match" error).
bool SplitQuantity(std::string_view s, Parts& parts) {
  size_t pos = 0;
  const size_t end = s.size();
  if (pos < end && (s[pos] == '-' || s[pos] == '+')) {
    parts.negative = s[pos] == '-';
    ++pos;
  }
  while (pos < end && s[pos] == '0') ++pos;
  size_t start = pos;
  while (pos < end && IsDigit(s[pos])) ++pos;
  parts.num = s.substr(start, pos - start);
  if (pos < end && s[pos] == '.') {
    start = ++pos;
    while (pos < end && IsDigit(s[pos])) ++pos;
    parts.denom = s.substr(start, pos - start);
  }
  const size_t suffix_start = pos;
  while (pos < end && IsSuffixLetter(s[pos])) ++pos;
  if (pos < end && (s[pos] == '-' || s[pos] == '+')) ++pos;
  while (pos < end && IsDigit(s[pos])) ++pos;
  if (pos < end) return false;
  parts.suffix = s.substr(suffix_start);
  return true;
}

// What a suffix means: value = number * base^exponent.
struct SuffixMeaning {
  int base = 10;
  int64_t exponent = 0;
  Quantity::Format format = Quantity::Format::kDecimalSI;
};

struct NamedSuffix {
  std::string_view name;
  int exponent;
};
constexpr std::array<NamedSuffix, 10> kDecimalSuffixes = {{{"n", -9},
                                                           {"u", -6},
                                                           {"m", -3},
                                                           {"", 0},
                                                           {"k", 3},
                                                           {"M", 6},
                                                           {"G", 9},
                                                           {"T", 12},
                                                           {"P", 15},
                                                           {"E", 18}}};
constexpr std::array<NamedSuffix, 7> kBinarySuffixes = {
    {{"", 0}, {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}}};

// Parses the digits after "e"/"E" ([+-]?[0-9]+) as Go's ParseInt would: false when
// malformed or beyond 18 digits (Go fails beyond int64).
bool ParseExponent(std::string_view text, int64_t& exponent) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return false;
  int64_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  exponent = negative ? -value : value;
  return true;
}

bool InterpretSuffix(std::string_view suffix, SuffixMeaning& meaning) {
  for (const NamedSuffix& s : kDecimalSuffixes) {
    if (s.name == suffix) {
      meaning = {10, s.exponent, Quantity::Format::kDecimalSI};
      return true;
    }
  }
  for (const NamedSuffix& s : kBinarySuffixes) {
    if (!s.name.empty() && s.name == suffix) {
      meaning = {2, s.exponent, Quantity::Format::kBinarySI};
      return true;
    }
  }
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    meaning.base = 10;
    meaning.format = Quantity::Format::kDecimalExponent;
    return ParseExponent(suffix.substr(1), meaning.exponent);
  }
  return false;
}

// Multiplies a decimal digit string (most significant first) by a small factor.
std::string MultiplyDigits(const std::string& digits, int factor) {
  std::string out(digits.size() + 5, '0');
  int carry = 0;
  size_t o = out.size();
  for (size_t i = digits.size(); i-- > 0;) {
    int v = (digits[i] - '0') * factor + carry;
    out[--o] = static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  while (carry > 0) {
    out[--o] = static_cast<char>('0' + carry % 10);
    carry /= 10;
  }
  return out.substr(o);
}

// Digits (no sign, no leading zeros) as a non-negative int128; false on overflow.
bool DigitsToInt128(std::string_view digits, int128& out) {
  uint128 value = 0;
  const uint128 limit = static_cast<uint128>(kInt128Max);
  for (char c : digits) {
    if (value > (limit - (c - '0')) / 10) return false;
    value = value * 10 + static_cast<uint128>(c - '0');
  }
  out = static_cast<int128>(value);
  return true;
}

// The magnitude of `digits` * 10^exp10, rounded up to an integer; false on overflow.
bool ScaleToInteger(const std::string& digits, int64_t exp10, int128& out) {
  if (exp10 >= 0) {
    if (static_cast<int64_t>(digits.size()) + exp10 > 39) return false;
    return DigitsToInt128(digits + std::string(static_cast<size_t>(exp10), '0'), out);
  }
  const uint64_t drop = static_cast<uint64_t>(-exp10);
  if (drop >= digits.size()) {
    out = 1;  // a non-zero value finer than the unit rounds up to one unit
    return true;
  }
  std::string_view kept(digits.data(), digits.size() - drop);
  std::string_view dropped(digits.data() + kept.size(), drop);
  if (!DigitsToInt128(kept, out)) return false;
  if (dropped.find_first_not_of('0') != std::string_view::npos) ++out;
  return true;
}

std::string Int128ToString(int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  uint128 magnitude = negative ? -static_cast<uint128>(value) : static_cast<uint128>(value);
  std::string out;
  while (magnitude > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  if (negative) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

int128 Abs(int128 v) { return v < 0 ? -v : v; }

// 10^n, for 0 <= n <= 38.
int128 PowerOfTen(int64_t n) {
  int128 power = 1;
  for (int64_t i = 0; i < n; ++i) power *= 10;
  return power;
}

// Nearly every quantity a manifest holds ("100m", "500Mi", "4") is a whole number of at
// most 18 digits whose suffix scales it to whole nano-units: its magnitude in nano-units,
// computed in integers, no digit strings. nullopt for anything else, which the general
// path takes.
std::optional<int128> WholeNumberNanos(const Parts& parts, const SuffixMeaning& meaning) {
  if (!parts.denom.empty() || parts.num.size() > 18) return std::nullopt;
  uint64_t value = 0;
  for (char c : parts.num) value = value * 10 + static_cast<uint64_t>(c - '0');
  if (meaning.base == 2) {  // exponents 10 to 60; beyond 2^63-1 units the cap applies
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) >> meaning.exponent) {
      return std::nullopt;
    }
    return static_cast<int128>(value << meaning.exponent) * kNanosPerUnit;
  }
  const int64_t exp10 = meaning.exponent + 9;  // below 10^18 * 10^18: no overflow
  if (exp10 < 0 || exp10 > 18) return std::nullopt;
  return static_cast<int128>(value) * PowerOfTen(exp10);
}

// The quotient of nanos / divisor rounded away from zero, saturated to int64.
int64_t DivideAwayFromZero(int128 nanos, int128 divisor) {
  int128 q = nanos / divisor;
  if (nanos % divisor != 0) q += nanos < 0 ? -1 : 1;
  if (q > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (q < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(q);
}

int128 SaturatingAdd(int128 a, int128 b) {
  int128 sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kInt128Max : kInt128Min;
  return sum;
}

// Decimal text for magnitude * 10^exponent in decimalSI or decimal-exponent form, with the
// exponent a multiple of 3 and no precision lost (Kubernetes' AsCanonicalBytes).
std::string DecimalText(int128 magnitude, int exponent, Quantity::Format format) {
  while (magnitude >= 10 && magnitude % 10 == 0) {
    magnitude /= 10;
    ++exponent;
  }
  // Lower the exponent to a multiple of 3. This never overflows: the zeros added back
  // are at most the ones just removed (the starting exponent, -9, is a multiple of 3).
  while (exponent % 3 != 0) {
    magnitude *= 10;
    --exponent;
  }
  std::string text = Int128ToString(magnitude);
  if (format == Quantity::Format::kDecimalSI) {
    for (const NamedSuffix& s : kDecimalSuffixes) {
      if (s.exponent == exponent) return text + std::string(s.name);
    }
    // decimalSI has no suffix beyond E (10^18): fall back to exponent notation.
  }
  if (exponent == 0) return text;
  return fmt::format("{}e{}", text, exponent);
}

// Binary text for a whole number of units (Kubernetes' AsCanonicalBase1024Bytes).
std::string BinaryText(int128 units) {
  size_t index = 0;
  while (index + 1 < kBinarySuffixes.size() && units >= 1024 && units % 1024 == 0) {
    units /= 1024;
    ++index;
  }
  return Int128ToString(units) + std::string(kBinarySuffixes[index].name);
}

}  // namespace

absl::StatusOr<Quantity> Quantity::Parse(std::string_view text) {
  Parts parts;
  if (text.empty() || !SplitQuantity(text, parts)) {
    return InvalidQuantity(text, kFormatMessage);
  }
  SuffixMeaning meaning;
  if (!InterpretSuffix(parts.suffix, meaning)) return InvalidQuantity(text, kSuffixMessage);
  if (std::optional<int128> nanos = WholeNumberNanos(parts, meaning)) {
    // A binary quantity here is zero or at least 1Ki: its format stands.
    return Quantity(parts.negative ? -*nanos : *nanos, meaning.format);
  }

  // The number as significant digits times a power of ten.
  std::string digits(parts.num);
  digits.append(parts.denom);
  int64_t exp10 = -static_cast<int64_t>(parts.denom.size());
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Quantity(0, meaning.format);
  digits.erase(0, first);
  const size_t last = digits.find_last_not_of('0');
  exp10 += static_cast<int64_t>(digits.size() - 1 - last);
  digits.erase(last + 1);

  if (meaning.base == 2) {
    for (int64_t i = 0; i < meaning.exponent; i += 10) digits = MultiplyDigits(digits, 1024);
  } else {
    exp10 += meaning.exponent;
  }
  exp10 += 9;  // count nano-units

  int128 nanos = 0;
  const bool fits = ScaleToInteger(digits, exp10, nanos);
  Format format = meaning.format;
  if (format == Format::kBinarySI) {
    if (!fits || nanos > kBinaryCapNanos) nanos = kBinaryCapNanos;
    // Below one unit, a binary suffix would only mislead: print it as decimal.
    if (nanos < kNanosPerUnit) format = Format::kDecimalSI;
  } else if (!fits) {
    return InvalidQuantity(text, "out of range (orch quantities are limited to about ±1.7e29)");
  }
  return Quantity(parts.negative ? -nanos : nanos, format);
}

Quantity Quantity::FromInt(int64_t value, Format format) {
  return Quantity(static_cast<int128>(value) * kNanosPerUnit, format);
}

Quantity Quantity::FromMilli(int64_t milli, Format format) {
  return Quantity(static_cast<int128>(milli) * 1'000'000, format);
}

absl::StatusOr<Quantity> Quantity::FromProto(const v1::Quantity& proto) {
  return Parse(proto.value());
}

v1::Quantity Quantity::ToProto() const {
  v1::Quantity proto;
  ToProto(&proto);
  return proto;
}

void Quantity::ToProto(v1::Quantity* out) const { out->set_value(ToString()); }

std::string Quantity::ToString() const {
  if (nanos_ == 0) return "0";
  const int128 magnitude = Abs(nanos_ == kInt128Min ? kInt128Max : nanos_);
  const std::string sign = nanos_ < 0 ? "-" : "";
  const bool binary = format_ == Format::kBinarySI && magnitude >= 1024 * kNanosPerUnit &&
                      magnitude % kNanosPerUnit == 0;
  if (binary) return sign + BinaryText(magnitude / kNanosPerUnit);
  const Format decimal_format =
      format_ == Format::kDecimalExponent ? Format::kDecimalExponent : Format::kDecimalSI;
  return sign + DecimalText(magnitude, -9, decimal_format);
}

int64_t Quantity::Value() const { return DivideAwayFromZero(nanos_, kNanosPerUnit); }

int64_t Quantity::MilliValue() const { return DivideAwayFromZero(nanos_, 1'000'000); }

double Quantity::AsApproximateDouble() const {
  return static_cast<double>(nanos_) / static_cast<double>(kNanosPerUnit);
}

Quantity& Quantity::Add(const Quantity& other) {
  if (nanos_ == 0) format_ = other.format_;
  nanos_ = SaturatingAdd(nanos_, other.nanos_);
  return *this;
}

Quantity& Quantity::Sub(const Quantity& other) {
  if (nanos_ == 0) format_ = other.format_;
  const int128 negated = other.nanos_ == kInt128Min ? kInt128Max : -other.nanos_;
  nanos_ = SaturatingAdd(nanos_, negated);
  return *this;
}

bool Quantity::RoundUp(int exponent) {
  exponent = std::clamp(exponent, -9, 29);
  const int128 step = PowerOfTen(exponent + 9);
  const int128 remainder = nanos_ % step;
  if (remainder == 0) return true;
  const int128 truncated = nanos_ - remainder;
  nanos_ = SaturatingAdd(truncated, nanos_ < 0 ? -step : step);
  return false;
}

Quantity& Quantity::Neg() {
  nanos_ = nanos_ == kInt128Min ? kInt128Max : -nanos_;
  return *this;
}

}  // namespace orch::api
