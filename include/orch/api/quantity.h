// Quantity: a resource amount ("500m", "1.5Gi", "2e3"), parsed and printed exactly as
// Kubernetes' resource.Quantity does. This is orch's one quantity parser.
//
// Grammar (Kubernetes'):
//   quantity ::= [+-] number suffix
//   number   ::= digits | digits "." digits | digits "." | "." digits
//   suffix   ::= binarySI | decimalSI | decimalExponent
//   binarySI ::= Ki | Mi | Gi | Ti | Pi | Ei                  (powers of 1024)
//   decimalSI::= n | u | m | "" | k | M | G | T | P | E        (powers of 1000)
//   decimalExponent ::= (e | E) [+-] digits                   ("2e3", "1E-3")
//
// Representation: an exact count of nano-units (10^-9) in a 128-bit integer; no floating
// point anywhere. As in Kubernetes, a value finer than nano is rounded up (away from zero)
// to the next nano ("0.9n" is "1n"), and a binarySI value is capped, silently, at 2^63-1
// ("9Ei" is 9223372036854775807). orch departs from Kubernetes in one place: a decimal
// value beyond about ±1.7e29 (Kubernetes has no bound) is rejected as out of range.
//
// Each quantity remembers its format (the kind of suffix it was written with) and prints
// in Kubernetes' canonical form for that format (ToString): no fractional digits, the
// largest suffix that loses no precision, binarySI falling back to decimalSI when the value
// is below 1024 or not a whole multiple of a binary suffix:
//   "0.5" -> "500m", "1.5Gi" -> "1536Mi", "2e3" -> "2e3", "129M" -> "129M",
//   "1.5k" -> "1500", "1.2345" -> "1234500u", "1.5Ki" -> "1536", "2048Ki" -> "2Mi".
//
// Thread safety: a Quantity is an immutable-by-default value type; const methods may be
// called concurrently. Errors: Parse returns kInvalidArgument naming the text; nothing
// throws, and no input crashes or hangs the parser (work is linear in the input length).
#ifndef ORCH_API_QUANTITY_H_
#define ORCH_API_QUANTITY_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "orch/api/v1/meta.pb.h"

namespace orch::api {

class Quantity {
 public:
  // The suffix family a quantity prints with (Kubernetes' resource.Format).
  enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

  // Zero, in decimalSI ("0").
  Quantity() = default;

  // Parses Kubernetes' quantity syntax. kInvalidArgument, e.g.
  //   invalid quantity "1 ": quantities must match the regular expression
  //   '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'
  //   invalid quantity "1Zi": unable to parse quantity's suffix
  //   invalid quantity "1e40": out of range
  // Leading and trailing whitespace are errors, as in Kubernetes' ParseQuantity.
  static absl::StatusOr<Quantity> Parse(std::string_view text);

  // `value` whole units (Kubernetes' NewQuantity).
  static Quantity FromInt(int64_t value, Format format = Format::kDecimalSI);
  // `milli` thousandths (Kubernetes' NewMilliQuantity): FromMilli(1500) is "1500m".
  static Quantity FromMilli(int64_t milli, Format format = Format::kDecimalSI);

  // The proto form holds the canonical string. FromProto parses it (the same errors as
  // Parse); ToProto writes ToString().
  static absl::StatusOr<Quantity> FromProto(const v1::Quantity& proto);
  v1::Quantity ToProto() const;
  void ToProto(v1::Quantity* out) const;

  // Kubernetes' canonical text (Quantity.String()). Parse(ToString()) == *this.
  std::string ToString() const;

  // Whole units, rounded up away from zero ("1.5" -> 2, "-1.5" -> -2, "1n" -> 1), as
  // Kubernetes' Value(). Saturates at the int64 limits instead of overflowing.
  int64_t Value() const;
  // Thousandths, rounded up away from zero ("1n" -> 1, "1.5" -> 1500), as Kubernetes'
  // MilliValue(). Saturates at the int64 limits.
  int64_t MilliValue() const;
  // Nearest double; for scores and ratios, never for comparisons.
  double AsApproximateDouble() const;

  bool IsZero() const { return nanos_ == 0; }
  // -1, 0 or 1.
  int Sign() const { return nanos_ < 0 ? -1 : (nanos_ > 0 ? 1 : 0); }
  Format format() const { return format_; }

  // Arithmetic is exact and saturates at the representable bounds. As in Kubernetes, when
  // *this is zero it takes `other`'s format (so 0 + 1Gi prints "1Gi").
  Quantity& Add(const Quantity& other);
  Quantity& Sub(const Quantity& other);
  Quantity& Neg();
  // Rounds away from zero to a multiple of 10^exponent (-9 nano ... -3 milli, 0 units,
  // 3 thousands, up to 29), keeping the format, as Kubernetes' RoundUp(scale). Returns
  // false when that changed the value. Defaulting rounds every resource list to milli.
  bool RoundUp(int exponent);
  friend Quantity operator+(Quantity a, const Quantity& b) { return a.Add(b); }
  friend Quantity operator-(Quantity a, const Quantity& b) { return a.Sub(b); }

  // Compares values only: "1Gi" == "1073741824" and "1k" == "1e3" even though they print
  // differently (as Kubernetes' Cmp and Equal).
  int Cmp(const Quantity& other) const {
    return nanos_ < other.nanos_ ? -1 : (nanos_ > other.nanos_ ? 1 : 0);
  }
  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    return a.nanos_ <=> b.nanos_;
  }

 private:
  Quantity(__int128 nanos, Format format) : nanos_(nanos), format_(format) {}

  __int128 nanos_ = 0;  // the value in units of 10^-9
  Format format_ = Format::kDecimalSI;
};

}  // namespace orch::api

#endif  // ORCH_API_QUANTITY_H_
