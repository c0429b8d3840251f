#include "orch/api/quantity.h"

#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using Format = Quantity::Format;

Quantity Q(std::string_view text) {
  absl::StatusOr<Quantity> q = Quantity::Parse(text);
  EXPECT_THAT(q, IsOk()) << text;
  return q.ok() ? *q : Quantity();
}

// --- canonical text -------------------------------------------------------------------

struct CanonicalCase {
  const char* input;
  const char* canonical;
};
// Names each generated test by its input ("PrintsAsKubernetes/3 # GetParam() = 2e3").
void PrintTo(const CanonicalCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }

class CanonicalFormTest : public ::testing::TestWithParam<CanonicalCase> {};

TEST_P(CanonicalFormTest, PrintsAsKubernetes) {
  EXPECT_EQ(Q(GetParam().input).ToString(), GetParam().canonical) << GetParam().input;
}

TEST_P(CanonicalFormTest, CanonicalTextIsAFixedPoint) {
  const Quantity q = Q(GetParam().input);
  const Quantity again = Q(q.ToString());
  EXPECT_EQ(again, q);
  EXPECT_EQ(again.ToString(), q.ToString());
}

TEST_P(CanonicalFormTest, NegationPrintsWithMinus) {
  const Quantity q = Q(GetParam().input);
  const char first = GetParam().input[0];
  // Zero has no sign, and an input that already has one cannot take another: for those
  // cases, negating must give back a value of the opposite sign (or zero) instead.
  if (q.IsZero() || first == '-' || first == '+') {
    EXPECT_EQ(Quantity(q).Neg().Sign(), -q.Sign());
    return;
  }
  Quantity negative = Q(std::string("-") + GetParam().input);
  EXPECT_EQ(negative.ToString(), std::string("-") + GetParam().canonical);
  EXPECT_EQ(negative, Quantity(q).Neg());
}

INSTANTIATE_TEST_SUITE_P(
    Kubernetes, CanonicalFormTest,
    ::testing::Values(
        // The brief's examples.
        CanonicalCase{"500m", "500m"}, CanonicalCase{"0.5", "500m"},
        CanonicalCase{"1.5Gi", "1536Mi"}, CanonicalCase{"2e3", "2e3"},
        CanonicalCase{"128974848", "128974848"}, CanonicalCase{"129M", "129M"},
        CanonicalCase{"123Mi", "123Mi"}, CanonicalCase{"1n", "1n"}, CanonicalCase{"-1", "-1"},
        CanonicalCase{".5", "500m"}, CanonicalCase{"5.", "5"}, CanonicalCase{"0", "0"},
        // Binary stays binary when a whole multiple of a binary suffix.
        CanonicalCase{"1Ki", "1Ki"}, CanonicalCase{"1024Mi", "1Gi"},
        CanonicalCase{"1025Mi", "1025Mi"}, CanonicalCase{"300Mi", "300Mi"},
        CanonicalCase{"307200Ki", "300Mi"}, CanonicalCase{"1025024Mi", "1001Gi"},
        CanonicalCase{"1024Gi", "1Ti"}, CanonicalCase{"3Ei", "3Ei"},
        // ...and falls back to decimal below 1024 or when not whole.
        CanonicalCase{"1.5Ki", "1536"}, CanonicalCase{"0.5Ki", "512"},
        CanonicalCase{"1.1Mi", "1153433600m"}, CanonicalCase{".001Ki", "1024m"},
        CanonicalCase{".000001Ki", "1024u"}, CanonicalCase{".000000001Ki", "1024n"},
        CanonicalCase{".000000000001Ki", "2n"},
        // Decimal SI: largest exponent that is a multiple of 3 and loses nothing.
        CanonicalCase{"1000M", "1G"}, CanonicalCase{"1.5k", "1500"},
        CanonicalCase{"1.2345", "1234500u"}, CanonicalCase{"0.001T", "1G"},
        CanonicalCase{"1000u", "1m"}, CanonicalCase{"1.08", "1080m"},
        CanonicalCase{"1080000000n", "1080m"}, CanonicalCase{"100.035k", "100035"},
        CanonicalCase{"10.035M", "10035k"}, CanonicalCase{"7.123456M", "7123456"},
        CanonicalCase{"5.444T", "5444G"}, CanonicalCase{"40.1T", "40100G"},
        CanonicalCase{"300.2T", "300200G"}, CanonicalCase{"2.5P", "2500T"},
        CanonicalCase{"1.01E", "1010P"}, CanonicalCase{"12E", "12E"},
        CanonicalCase{"1000E", "1e21"}, CanonicalCase{"5000E", "5e21"},
        CanonicalCase{"1000000E", "1e24"}, CanonicalCase{"80n", "80n"},
        CanonicalCase{"1080u", "1080u"}, CanonicalCase{"3k", "3k"},
        // Decimal exponent stays exponent form.
        CanonicalCase{".001e12", "1e9"}, CanonicalCase{"0.001e0", "1e-3"},
        CanonicalCase{"1000e-12", "1e-9"}, CanonicalCase{"80e-3", "80e-3"},
        CanonicalCase{"300e6", "300e6"}, CanonicalCase{"1E12", "1e12"},
        CanonicalCase{"1.3E+6", "1300e3"}, CanonicalCase{"1e14", "100e12"},
        CanonicalCase{"5e0", "5"}, CanonicalCase{"00", "0"},
        // Rounding up to nano, away from zero.
        CanonicalCase{"3.001n", "4n"}, CanonicalCase{"0.9n", "1n"},
        CanonicalCase{"0.0000000001", "1n"}, CanonicalCase{"0.00000012345", "124n"},
        CanonicalCase{"1.1E-9", "2e-9"}, CanonicalCase{"1e-100", "1e-9"},
        // Things written by trolls, still valid.
        CanonicalCase{"1.", "1"}, CanonicalCase{"1.G", "1G"}, CanonicalCase{".", "0"},
        CanonicalCase{"-", "0"}, CanonicalCase{"+5", "5"}, CanonicalCase{"0.0005k", "500m"},
        CanonicalCase{"007", "7"}));

TEST(QuantityTest, BinaryValuesAreCappedAtMaxInt64) {
  EXPECT_EQ(Q("9Ei").ToString(), "9223372036854775807");
  EXPECT_EQ(Q("9223372036854775807Ki").Value(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("-9Ei").Value(), -std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("7Ei").ToString(), "7Ei");  // under the cap
}

// --- formats --------------------------------------------------------------------------

TEST(QuantityTest, RemembersTheFormatOfItsSuffix) {
  EXPECT_EQ(Q("1").format(), Format::kDecimalSI);
  EXPECT_EQ(Q("5n").format(), Format::kDecimalSI);
  EXPECT_EQ(Q("1Ki").format(), Format::kBinarySI);
  EXPECT_EQ(Q("0Mi").format(), Format::kBinarySI);
  EXPECT_EQ(Q("1e3").format(), Format::kDecimalExponent);
  EXPECT_EQ(Q("1E-3").format(), Format::kDecimalExponent);
  EXPECT_EQ(Q("1E").format(), Format::kDecimalSI);  // exa, not an exponent
  // A binary value below one unit becomes decimal (Kubernetes avoids "0.5Ki"-like text).
  EXPECT_EQ(Q("0.000000000001Ki").format(), Format::kDecimalSI);
}

// --- values ---------------------------------------------------------------------------

TEST(QuantityTest, ParsesExactValues) {
  EXPECT_EQ(Q("1Ki").Value(), 1024);
  EXPECT_EQ(Q("7Mi").Value(), 7 * 1024 * 1024);
  EXPECT_EQ(Q("6Gi").Value(), 6LL << 30);
  EXPECT_EQ(Q("5Ti").Value(), 5LL << 40);
  EXPECT_EQ(Q("4Pi").Value(), 4LL << 50);
  EXPECT_EQ(Q("3Ei").Value(), 3LL << 60);
  EXPECT_EQ(Q("8k").Value(), 8000);
  EXPECT_EQ(Q("7M").Value(), 7'000'000);
  EXPECT_EQ(Q("6G").Value(), 6'000'000'000);
  EXPECT_EQ(Q("5T").Value(), 5'000'000'000'000);
  EXPECT_EQ(Q("2P").Value(), 2'000'000'000'000'000);
  EXPECT_EQ(Q("1E").Value(), 1'000'000'000'000'000'000);
  EXPECT_EQ(Q("1e9").Value(), 1'000'000'000);
  EXPECT_EQ(Q("1.7E18").Value(), 1'700'000'000'000'000'000);
  EXPECT_EQ(Q("100.035Ki").MilliValue(), 102435840);
  EXPECT_EQ(Q("0.025Ti").Value(), 27487790695);  // 27487790694.4 rounds up
}

TEST(QuantityTest, ValueAndMilliValueRoundAwayFromZero) {
  EXPECT_EQ(Q("1.5").Value(), 2);
  EXPECT_EQ(Q("-1.5").Value(), -2);
  EXPECT_EQ(Q("1n").Value(), 1);
  EXPECT_EQ(Q("1n").MilliValue(), 1);
  EXPECT_EQ(Q("-1n").MilliValue(), -1);
  EXPECT_EQ(Q("500m").MilliValue(), 500);
  EXPECT_EQ(Q("500m").Value(), 1);
  EXPECT_EQ(Q("1.5").MilliValue(), 1500);
  EXPECT_EQ(Q("2").MilliValue(), 2000);
  EXPECT_EQ(Q("0").Value(), 0);
  EXPECT_EQ(Q("9.01").Value(), 10);
  EXPECT_EQ(Q("-9.01").Value(), -10);
}

TEST(QuantityTest, AccessorsSaturateInsteadOfOverflowing) {
  EXPECT_EQ(Q("100E").Value(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("10E").MilliValue(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("-10E").MilliValue(), std::numeric_limits<int64_t>::min());
}

TEST(QuantityTest, ComparesValuesNotText) {
  EXPECT_EQ(Q("1Gi"), Q("1073741824"));
  EXPECT_EQ(Q("1k"), Q("1e3"));
  EXPECT_EQ(Q("0"), Q("0Ki"));
  EXPECT_GT(Q("100m"), Q("50m"));
  EXPECT_LT(Q("50m"), Q("100m"));
  EXPECT_GT(Q("10000T"), Q("100Gi"));
  EXPECT_EQ(Q("100m").Cmp(Q("50m")), 1);
  EXPECT_EQ(Q("50m").Cmp(Q("100m")), -1);
  EXPECT_EQ(Q("1").Cmp(Q("1000m")), 0);
  EXPECT_LT(Q("-1"), Q("1n"));
}

TEST(QuantityTest, SignAndIsZero) {
  EXPECT_TRUE(Q("0").IsZero());
  EXPECT_TRUE(Q("0.000").IsZero());
  EXPECT_TRUE(Quantity().IsZero());
  EXPECT_FALSE(Q("1n").IsZero());
  EXPECT_EQ(Q("-3").Sign(), -1);
  EXPECT_EQ(Q("0").Sign(), 0);
  EXPECT_EQ(Q("3").Sign(), 1);
}

// --- arithmetic -----------------------------------------------------------------------

TEST(QuantityTest, AddAndSubAreExact) {
  EXPECT_EQ((Q("100m") + Q("900m")).ToString(), "1");
  EXPECT_EQ((Q("1Gi") - Q("512Mi")).ToString(), "512Mi");
  EXPECT_EQ((Q("1") - Q("1n")).ToString(), "999999999n");
  EXPECT_EQ((Q("1.5Gi") + Q("1.5Gi")).ToString(), "3Gi");
  Quantity q = Q("1");
  q.Sub(Q("2"));
  EXPECT_EQ(q.ToString(), "-1");
}

TEST(QuantityTest, AddingToZeroTakesTheOtherFormat) {
  for (const char* text : {"100m", "1Gi", "2e3"}) {
    const Quantity value = Q(text);
    EXPECT_EQ((Q("0") + value).ToString(), text);
    EXPECT_EQ((value + Q("0")).ToString(), text);
    EXPECT_EQ((value - Q("0")).ToString(), text);
    EXPECT_EQ((Q("0") - value).ToString(), Quantity(value).Neg().ToString());
  }
}

TEST(QuantityTest, NegDoesNotChangeTheFormat) {
  EXPECT_EQ(Q("9.01").Neg().ToString(), "-9010m");
  EXPECT_EQ(Q("2Gi").Neg().ToString(), "-2Gi");
  EXPECT_EQ(Q("0").Neg().ToString(), "0");
}

TEST(QuantityTest, RoundUpAsKubernetes) {
  struct Case {
    const char* input;
    int exponent;
    const char* expect;
    bool exact;
  } cases[] = {
      {"9.01", -3, "9010m", true},  {"9.01", -2, "9010m", true},  {"9.01", -1, "9100m", false},
      {"9.01", 0, "10", false},     {"9.01", 1, "10", false},     {"9.01", 2, "100", false},
      {"-9.01", -3, "-9010m", true}, {"-9.01", -1, "-9100m", false}, {"-9.01", 0, "-10", false},
      {"-9.01", 2, "-100", false},  {"1n", -3, "1m", false},      {"1Gi", -3, "1Gi", true},
  };
  for (const Case& c : cases) {
    Quantity q = Q(c.input);
    EXPECT_EQ(q.RoundUp(c.exponent), c.exact) << c.input << " " << c.exponent;
    EXPECT_EQ(q.ToString(), c.expect) << c.input << " " << c.exponent;
  }
}

TEST(QuantityTest, FromIntAndFromMilli) {
  EXPECT_EQ(Quantity::FromInt(1).ToString(), "1");
  EXPECT_EQ(Quantity::FromInt(1000).ToString(), "1k");
  EXPECT_EQ(Quantity::FromInt(1234000).ToString(), "1234k");
  EXPECT_EQ(Quantity::FromInt(1024, Format::kBinarySI).ToString(), "1Ki");
  EXPECT_EQ(Quantity::FromInt(1024 * 1024, Format::kBinarySI).ToString(), "1Mi");
  EXPECT_EQ(Quantity::FromInt(1000000, Format::kDecimalExponent).ToString(), "1e6");
  EXPECT_EQ(Quantity::FromMilli(1).ToString(), "1m");
  EXPECT_EQ(Quantity::FromMilli(1000).ToString(), "1");
  EXPECT_EQ(Quantity::FromMilli(1234000).ToString(), "1234");
  EXPECT_EQ(Quantity::FromMilli(1024, Format::kBinarySI).ToString(), "1024m");
  EXPECT_EQ(Quantity::FromMilli(1024 * 1024, Format::kBinarySI).ToString(), "1048576m");
  EXPECT_EQ(Quantity::FromMilli(1000000, Format::kDecimalExponent).ToString(), "1e3");
  EXPECT_EQ(Quantity::FromMilli(1500).MilliValue(), 1500);
}

// --- proto form -----------------------------------------------------------------------

TEST(QuantityTest, ProtoHoldsTheCanonicalText) {
  EXPECT_EQ(Q("1.5Gi").ToProto().value(), "1536Mi");
  v1::Quantity proto;
  proto.set_value("0.5");
  ORCH_ASSERT_OK_AND_ASSIGN(Quantity q, Quantity::FromProto(proto));
  EXPECT_EQ(q.MilliValue(), 500);
  v1::Quantity out;
  q.ToProto(&out);
  EXPECT_EQ(out.value(), "500m");
  EXPECT_THAT(Quantity::FromProto(v1::Quantity()), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- errors ---------------------------------------------------------------------------

TEST(QuantityTest, RejectsMalformedTextWithKubernetesMessages) {
  const std::string format_message =
      "quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  for (const char* text : {"", "1.1.M", "1+1.0M", "aoeu", " 1", "1 ", "1,5", "1e3.5", "1E-3i", "0.1am"}) {
    EXPECT_THAT(Quantity::Parse(text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(format_message)))
        << text;
  }
  for (const char* text : {"0.1mi", ".5i", "1i", "-3.01i", "-3.01e-", "1K", "1e",
                           "1Ki5", "1kM", "1-", "1e+", "--1"}) {
    EXPECT_THAT(Quantity::Parse(text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("unable to parse quantity's suffix")))
        << text;
  }
  EXPECT_THAT(Quantity::Parse("1Zi"), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("invalid quantity \"1Zi\"")));
}

TEST(QuantityTest, RejectsDecimalValuesBeyondItsRange) {
  EXPECT_THAT(Quantity::Parse("1e40"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(Quantity::Parse("1e999999999999"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(Quantity::Parse(std::string(60, '9')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(Quantity::Parse("1e20"), IsOk());
  EXPECT_THAT(Quantity::Parse("0e999999999999"), IsOk());  // zero at any scale
}

TEST(QuantityTest, HugeInputsAreLinearAndSafe) {
  // A million fractional digits: parses (rounded up to nano), quickly.
  std::string tiny = "0." + std::string(1'000'000, '0') + "1";
  EXPECT_EQ(Q(tiny).ToString(), "1n");
  std::string long_binary = "1." + std::string(100'000, '0') + "1Ki";
  EXPECT_EQ(Q(long_binary).ToString(), "1024000000001n");
  absl::StatusOr<Quantity> huge = Quantity::Parse(std::string(100'000, '7'));
  EXPECT_THAT(huge, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("7...\"")));
  EXPECT_LT(huge.status().message().size(), 200u);  // the message echoes a prefix only
}

// No input crashes or hangs the parser, and every accepted input round-trips.
TEST(QuantityTest, RandomInputsNeverCrashAndRoundTrip) {
  std::mt19937 rng(20240611);
  const std::string alphabet = "0123456789.+-eEinumkKMGTP xZ";
  std::uniform_int_distribution<int> length(0, 12);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) text.push_back(alphabet[pick(rng)]);
    absl::StatusOr<Quantity> q = Quantity::Parse(text);
    if (!q.ok()) {
      EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ++accepted;
    absl::StatusOr<Quantity> again = Quantity::Parse(q->ToString());
    ASSERT_THAT(again, IsOk()) << text << " -> " << q->ToString();
    EXPECT_EQ(*again, *q) << text << " -> " << q->ToString();
    EXPECT_EQ(again->ToString(), q->ToString()) << text;
  }
  EXPECT_GT(accepted, 100);
}

// Whole numbers take a shortcut (integers, no digit strings); the same value written with a
// fraction (".0") takes the general path. Both give the same value and format, at every
// suffix and across the edges where the shortcut hands over (19 digits, the binary cap,
// decimal exponents outside 10^-9..10^9).
TEST(QuantityTest, WholeNumbersParseAsTheirFractionalForm) {
  std::mt19937_64 rng(20261205);
  const std::vector<std::string> suffixes = {"",   "n",  "u",  "m",  "k",   "M",   "G",  "T",
                                             "P",  "E",  "Ki", "Mi", "Gi",  "Ti",  "Pi", "Ei",
                                             "e3", "e9", "e-3", "e-9", "e-12", "e10", "E18"};
  std::uniform_int_distribution<int> digits(1, 20);
  std::uniform_int_distribution<int> digit(0, 9);
  int compared = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string number;
    for (int n = digits(rng); n > 0; --n) number.push_back(static_cast<char>('0' + digit(rng)));
    const std::string sign = i % 3 == 0 ? "-" : (i % 3 == 1 ? "+" : "");
    const std::string& suffix = suffixes[static_cast<size_t>(i) % suffixes.size()];
    absl::StatusOr<Quantity> whole = Quantity::Parse(sign + number + suffix);
    absl::StatusOr<Quantity> general = Quantity::Parse(sign + number + ".0" + suffix);
    ASSERT_EQ(whole.ok(), general.ok()) << sign << number << suffix;
    if (!whole.ok()) continue;
    ++compared;
    EXPECT_EQ(*whole, *general) << sign << number << suffix;
    EXPECT_EQ(whole->format(), general->format()) << sign << number << suffix;
    EXPECT_EQ(whole->ToString(), general->ToString()) << sign << number << suffix;
  }
  EXPECT_GT(compared, 15000);
  EXPECT_EQ(Q("9223372036854775807Ki").ToString(), Q("9223372036854775807.0Ki").ToString());
  EXPECT_EQ(Q("8388607Ei").ToString(), Q("8388607.0Ei").ToString());
}

}  // namespace
}  // namespace orch::api
