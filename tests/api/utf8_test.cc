// IsValidUtf8 accepts exactly what protobuf's parser accepts in a proto3 string field:
// known sequences, every sequence of up to three bytes, the four-byte ones at their edges,
// a bad byte at every offset of a longer text (past the 8-byte ASCII steps) and random
// text. FindNonAscii finds the first byte that is not ASCII, looking at nothing past its
// text.
#include "api/utf8.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "google/protobuf/stubs/common.h"
#include "gtest/gtest.h"

namespace orch::api::internal {
namespace {

// Protobuf's own check, which its parser runs on every proto3 string it reads.
bool ProtobufAccepts(std::string_view text) {
  return google::protobuf::internal::IsStructurallyValidUTF8(text.data(),
                                                              static_cast<int>(text.size()));
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string text;
  for (int b : bytes) text.push_back(static_cast<char>(b));
  return text;
}

TEST(Utf8Test, WellFormedTextIsValid) {
  for (std::string_view text :
       {"", "a", "plain ASCII, longer than eight bytes", "héllo", "日本", "😀", "\x7f",
        "\xc2\x80",                  // U+0080, the first two-byte character
        "\xdf\xbf",                  // U+07FF
        "\xe0\xa0\x80",              // U+0800, the first three-byte character
        "\xed\x9f\xbf",              // U+D7FF, just below the surrogates
        "\xee\x80\x80",              // U+E000, just above them
        "\xef\xbf\xbf",              // U+FFFF
        "\xf0\x90\x80\x80",          // U+10000, the first four-byte character
        "\xf4\x8f\xbf\xbf",          // U+10FFFF, the last one
        "mixed: a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80z and more"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_TRUE(ProtobufAccepts(text)) << text;
  }
  EXPECT_TRUE(IsValidUtf8(std::string_view("nul\0inside", 10)));
}

TEST(Utf8Test, MalformedTextIsNot) {
  for (const std::string& text : {
           Bytes({0x80}),                    // a continuation byte alone
           Bytes({0xbf}),
           Bytes({0xc0, 0x80}),              // overlong U+0000
           Bytes({0xc1, 0xbf}),              // overlong U+007F
           Bytes({0xe0, 0x80, 0x80}),        // overlong three-byte
           Bytes({0xe0, 0x9f, 0xbf}),
           Bytes({0xed, 0xa0, 0x80}),        // U+D800, a surrogate
           Bytes({0xed, 0xbf, 0xbf}),        // U+DFFF
           Bytes({0xf0, 0x80, 0x80, 0x80}),  // overlong four-byte
           Bytes({0xf0, 0x8f, 0xbf, 0xbf}),
           Bytes({0xf4, 0x90, 0x80, 0x80}),  // U+110000
           Bytes({0xf5, 0x80, 0x80, 0x80}),
           Bytes({0xf8, 0x88, 0x80, 0x80, 0x80}),
           Bytes({0xfe}), Bytes({0xff}),
           Bytes({0xe6, 0x97}),              // truncated
           Bytes({0xf0, 0x9f, 0x98}),
           Bytes({0xc3, 0x41}),              // a lead byte before ASCII
           Bytes({'a', 'b', 0xff, 0xfe}),
       }) {
    EXPECT_FALSE(IsValidUtf8(text)) << testing::PrintToString(text);
    EXPECT_FALSE(ProtobufAccepts(text)) << testing::PrintToString(text);
  }
}

TEST(Utf8Test, AgreesWithProtobufOnEverySequenceOfUpToThreeBytes) {
  std::string text;
  for (int a = 0; a < 256; ++a) {
    text.assign(1, static_cast<char>(a));
    ASSERT_EQ(IsValidUtf8(text), ProtobufAccepts(text)) << a;
    for (int b = 0; b < 256; ++b) {
      text.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(IsValidUtf8(text), ProtobufAccepts(text)) << a << " " << b;
      if (a < 0x80) continue;  // an ASCII first byte: the two-byte case again
      for (int c = 0; c < 256; ++c) {
        text.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        ASSERT_EQ(IsValidUtf8(text), ProtobufAccepts(text)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8Test, AgreesWithProtobufOnFourByteSequencesAtTheirEdges) {
  // The third and fourth bytes only matter as continuation bytes or not: their edges.
  const int kEdges[] = {0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff};
  std::string text(4, '\0');
  for (int a = 0x80; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : kEdges) {
        for (int d : kEdges) {
          text = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                  static_cast<char>(d)};
          ASSERT_EQ(IsValidUtf8(text), ProtobufAccepts(text))
              << a << " " << b << " " << c << " " << d;
        }
      }
    }
  }
}

TEST(Utf8Test, ABadOrMultiByteCharacterIsSeenAtEveryOffset) {
  // ASCII is checked 8 bytes at a time: what is not ASCII must be found wherever it is.
  for (const std::string& insert : {Bytes({0xff}), Bytes({0x80}), Bytes({0xed, 0xa0, 0x80}),
                                    Bytes({0xe6, 0x97}), std::string("é"),
                                    std::string("😀")}) {
    for (size_t length = 0; length <= 40; ++length) {
      for (size_t at = 0; at <= length; ++at) {
        std::string text(length, 'x');
        text.insert(at, insert);
        ASSERT_EQ(IsValidUtf8(text), ProtobufAccepts(text))
            << testing::PrintToString(text);
      }
    }
  }
}

TEST(Utf8Test, FindNonAsciiFindsTheFirstAndLooksNoFurtherThanItsText) {
  // The text sits between bytes that are not ASCII: reading past its ends would show.
  for (size_t length = 0; length <= 40; ++length) {
    std::string buffer(length + 16, '\xff');
    buffer.replace(8, length, std::string(length, 'a'));
    const std::string_view text(buffer.data() + 8, length);
    ASSERT_EQ(FindNonAscii(text), length);
    for (size_t at = 0; at < length; ++at) {
      buffer[8 + at] = '\x80';
      if (at + 3 < length) buffer[8 + at + 3] = '\xc3';  // a later one is not the first
      ASSERT_EQ(FindNonAscii(text), at) << length;
      buffer.replace(8, length, std::string(length, 'a'));
    }
  }
}

// A code point's UTF-8 encoding (surrogates too, which are then not valid).
std::string Encode(uint32_t c) {
  if (c < 0x80) return Bytes({static_cast<int>(c)});
  if (c < 0x800) return Bytes({0xc0 | static_cast<int>(c >> 6), 0x80 | static_cast<int>(c & 0x3f)});
  if (c < 0x10000) {
    return Bytes({0xe0 | static_cast<int>(c >> 12), 0x80 | static_cast<int>((c >> 6) & 0x3f),
                  0x80 | static_cast<int>(c & 0x3f)});
  }
  return Bytes({0xf0 | static_cast<int>(c >> 18), 0x80 | static_cast<int>((c >> 12) & 0x3f),
                0x80 | static_cast<int>((c >> 6) & 0x3f), 0x80 | static_cast<int>(c & 0x3f)});
}

TEST(Utf8Test, ToValidUtf8ReplacesEachBadRunWithOneReplacementCharacter) {
  EXPECT_EQ(ToValidUtf8("plain"), "plain");
  EXPECT_EQ(ToValidUtf8("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5"), "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5");
  EXPECT_EQ(ToValidUtf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ToValidUtf8("\xff\xfe\xfd"), "\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8("cut \xe6\x97"), "cut \xEF\xBF\xBD");        // a truncated character
  EXPECT_EQ(ToValidUtf8("\xed\xa0\x80x"), "\xEF\xBF\xBD" "x");      // a surrogate
  EXPECT_EQ(ToValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD");               // an overlong '/'
  EXPECT_EQ(ToValidUtf8(""), "");
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 24, '\0');
    for (char& c : text) c = static_cast<char>(rng());
    const std::string valid = ToValidUtf8(text);
    EXPECT_TRUE(IsValidUtf8(valid));
    if (IsValidUtf8(text)) EXPECT_EQ(valid, text);
  }
}

TEST(Utf8Test, AgreesWithProtobufOnRandomText) {
  std::mt19937 random(17);
  // Text of ASCII runs, characters of every length and stray bytes of every kind.
  const int kStray[] = {0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                        0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
  std::uniform_int_distribution<int> piece(0, 99);
  std::uniform_int_distribution<uint32_t> code_point(0x80, 0x10ffff);
  std::uniform_int_distribution<size_t> stray(0, std::size(kStray) - 1);
  std::uniform_int_distribution<int> pieces(0, 12);
  int valid = 0;
  for (int i = 0; i < 100'000; ++i) {
    std::string text;
    for (int n = pieces(random); n > 0; --n) {
      const int kind = piece(random);
      if (kind < 50) {
        text.append(static_cast<size_t>(kind % 11), static_cast<char>('a' + kind % 26));
      } else if (kind < 94) {
        text += Encode(code_point(random));
      } else {
        text.push_back(static_cast<char>(kStray[stray(random)]));
      }
    }
    const bool ours = IsValidUtf8(text);
    ASSERT_EQ(ours, ProtobufAccepts(text)) << testing::PrintToString(text);
    valid += ours;
  }
  // Both answers were given often.
  EXPECT_GT(valid, 20'000);
  EXPECT_LT(valid, 80'000);
}

}  // namespace
}  // namespace orch::api::internal
