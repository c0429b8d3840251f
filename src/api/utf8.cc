#include "api/utf8.h"

#include <cstddef>
#include <string>

namespace orch::api::internal {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the well-formed sequence at `p` (whose lead byte is not ASCII), or 0. The
// second byte's range depends on the lead byte: that is what excludes overlong forms,
// surrogates and code points above U+10FFFF.
size_t MultiByteLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = *p;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range
  if (lead < 0xC2) {
    return 0;  // a continuation byte, or the lead of an overlong 2-byte form
  } else if (lead < 0xE0) {
    length = 2;
  } else if (lead < 0xF0) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead < 0xF5) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong below U+10000
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < length || p[1] < low || p[1] > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuation(p[i])) return 0;
  }
  return length;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  for (;;) {
    p += FindNonAscii(std::string_view(reinterpret_cast<const char*>(p), end - p));
    if (p == end) return true;
    const size_t length = MultiByteLength(p, end);
    if (length == 0) return false;
    p += length;
  }
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  bool in_bad_run = false;
  while (p < end) {
    const size_t length = *p < 0x80 ? 1 : MultiByteLength(p, end);
    if (length == 0) {
      if (!in_bad_run) out.append("\xEF\xBF\xBD");  // U+FFFD
      in_bad_run = true;
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), length);
    in_bad_run = false;
    p += length;
  }
  return out;
}

}  // namespace orch::api::internal
