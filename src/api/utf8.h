// UTF-8 as orch accepts it in text: one check for the codec (manifests in and out) and the
// Client (objects written to the store). Internal.
#ifndef ORCH_SRC_API_UTF8_H_
#define ORCH_SRC_API_UTF8_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace orch::api::internal {

// Whether `text` is well-formed UTF-8 (Unicode's Table 3-7): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. This is what
// protobuf's parser accepts in a proto3 `string` field, so a message whose strings pass
// reads back from its encoding. ASCII runs are passed over as FindNonAscii does.
bool IsValidUtf8(std::string_view text);

// `text` with each run of bytes that are not well-formed UTF-8 replaced by one U+FFFD (as
// Go's strings.ToValidUTF8 does): for text from outside (a probe's output) on its way into
// an object. Valid text comes back unchanged.
std::string ToValidUtf8(std::string_view text);

// The first byte of `text` that is not ASCII (>= 0x80), or text.size(): where text
// could stop being valid UTF-8, found a word at a time. Inline: IsValidUtf8 runs on it,
// and so do walks that keep a cursor on the next such byte (client/string_check.cc).
inline size_t FindNonAscii(std::string_view text) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const auto word = [&text](size_t at) {
    uint64_t w;
    std::memcpy(&w, text.data() + at, sizeof(w));
    return w & kHigh;
  };
  size_t i = 0;
  while (i + 32 <= text.size() && (word(i) | word(i + 8) | word(i + 16) | word(i + 24)) == 0) {
    i += 32;
  }
  for (; i + 8 <= text.size(); i += 8) {
    const uint64_t high = word(i);
    if (high == 0) continue;
    if constexpr (std::endian::native == std::endian::little) {
      return i + static_cast<size_t>(std::countr_zero(high)) / 8;
    }
    break;  // the byte loop below finds it
  }
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  return i;
}

}  // namespace orch::api::internal

#endif  // ORCH_SRC_API_UTF8_H_
