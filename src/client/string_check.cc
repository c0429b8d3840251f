#include "client/string_check.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/codec_internal.h"
#include "api/utf8.h"
#include "fmt/format.h"
#include "google/protobuf/wire_format_lite.h"
#include "orch/api/validation.h"

namespace orch::client::internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Protobuf's parser reads messages nested 100 deep (its default recursion limit); the walk
// gives up a little deeper, where nothing it could vouch for is readable anyway.
constexpr int kMaxDepth = 128;
// Field numbers below this are looked up in an array, the rest (rare) by binary search.
constexpr uint64_t kDirectNumbers = 256;

using google::protobuf::internal::WireFormatLite;
constexpr uint64_t kVarint = WireFormatLite::WIRETYPE_VARINT;
constexpr uint64_t kFixed64 = WireFormatLite::WIRETYPE_FIXED64;
constexpr uint64_t kLengthDelimited = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
constexpr uint64_t kStartGroup = WireFormatLite::WIRETYPE_START_GROUP;
constexpr uint64_t kEndGroup = WireFormatLite::WIRETYPE_END_GROUP;
constexpr uint64_t kFixed32 = WireFormatLite::WIRETYPE_FIXED32;

bool IsText(const FieldDescriptor& field) { return field.type() == FieldDescriptor::TYPE_STRING; }

}  // namespace

// What the walk does with a length-delimited field, by its number: an Action.
struct StringTable {
  // kSkip, kText (check it is UTF-8), or the StringTable of the message to enter (a type
  // that holds strings), in one word: the walk reads one per field.
  using Action = uintptr_t;
  static constexpr Action kSkip = 0;
  static constexpr Action kText = 1;  // tables are aligned: never a table's address

  std::vector<Action> direct;                    // by number, below kDirectNumbers
  std::vector<std::pair<uint64_t, Action>> far;  // by number, sorted
  // While building: the message fields, entered only if their type holds strings.
  std::vector<std::pair<const FieldDescriptor*, StringTable*>> messages;
  bool holds_strings = false;

  Action Find(uint64_t number) const {
    if (number < direct.size()) return direct[number];
    auto it = std::lower_bound(far.begin(), far.end(), number,
                               [](const auto& entry, uint64_t n) { return entry.first < n; });
    return it != far.end() && it->first == number ? it->second : kSkip;
  }
  void Set(uint64_t number, Action action) {
    if (number < kDirectNumbers) {
      if (number >= direct.size()) direct.resize(number + 1, kSkip);
      direct[number] = action;
    } else {
      far.emplace_back(number, action);  // sorted by StringCheck::Link
    }
  }
};

namespace {

// ---------------------------------------------------------------- the walk

// The readers below take the position and return the one after what they read, nullptr
// when it is not there to read (past `end`, or malformed): no pointer to the position
// escapes, so the walk keeps it in a register.

struct Varint {
  const char* next;  // nullptr: malformed or cut short
  uint64_t value;
};

Varint ReadLongVarint(const char* p, const char* end) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (byte < 0x80) return {p, value};
  }
  return {nullptr, 0};
}

// Tags and lengths are one byte mostly.
inline Varint ReadVarint(const char* p, const char* end) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) return {p + 1, static_cast<uint8_t>(*p)};
  return ReadLongVarint(p, end);
}

inline const char* SkipVarint(const char* p, const char* end) {
  const char* const limit = end - p > 10 ? p + 10 : end;  // a varint has at most 10 bytes
  while (p < limit) {
    if (static_cast<uint8_t>(*p++) < 0x80) return p;
  }
  return nullptr;
}

inline const char* Advance(const char* p, const char* end, uint64_t count) {
  return count > static_cast<uint64_t>(end - p) ? nullptr : p + count;
}

const char* SkipGroup(uint64_t number, const char* p, const char* end, int depth);

// Past one value (of the wire type in `tag`), checking nothing in it.
const char* SkipValue(uint64_t tag, const char* p, const char* end, int depth) {
  switch (tag & 7) {
    case kVarint:
      return SkipVarint(p, end);
    case kFixed64:
      return Advance(p, end, 8);
    case kFixed32:
      return Advance(p, end, 4);
    case kLengthDelimited: {
      const Varint length = ReadVarint(p, end);
      return length.next == nullptr ? nullptr : Advance(length.next, end, length.value);
    }
    case kStartGroup:
      return SkipGroup(tag >> 3, p, end, depth + 1);
    default:
      return nullptr;  // an end group without a start, or no wire type at all
  }
}

// Past the end of group `number`, whose start tag was just read. Groups come only from
// proto2 types and unknown fields: their strings are not looked at.
const char* SkipGroup(uint64_t number, const char* p, const char* end, int depth) {
  if (depth > kMaxDepth) return nullptr;
  while (p != nullptr) {
    const Varint tag = ReadVarint(p, end);
    if (tag.next == nullptr) return nullptr;
    if ((tag.value & 7) == kEndGroup) return (tag.value >> 3) == number ? tag.next : nullptr;
    p = SkipValue(tag.value, tag.next, end, depth);
  }
  return nullptr;
}

// Past the fields from `p` that lie wholly before `high`, a byte that is not ASCII: bytes
// that are all ASCII hold one-byte tags, one-byte varints and lengths (the high bit marks a
// varint's continuation), and nothing to check. Stops at the field that holds `high`, or
// at one it does not know (a group, or bytes that are no field).
// REQUIRES: p < high, and high is a byte of the buffer.
inline const char* HopAscii(const char* p, const char* high) {
  while (p < high) {
    size_t size;
    switch (static_cast<uint8_t>(*p) & 7) {
      case kVarint:
        size = 2;
        break;
      case kLengthDelimited:
        size = 2 + static_cast<uint8_t>(p[1]);  // p + 1 <= high: in the buffer
        break;
      case kFixed64:
        size = 9;
        break;
      case kFixed32:
        size = 5;
        break;
      default:
        return p;
    }
    if (size > static_cast<size_t>(high - p)) return p;
    p += size;
  }
  return p;
}

using Strings = StringCheck::Strings;

// Iterative, with its own stack of the messages it is in: most messages are small (a map
// entry, a quantity), and a call per message would cost as much as walking it.
//
// Only a byte that is not ASCII can make a string bad, and in an encoding such bytes are
// few (two-byte tags and lengths, large numbers): the walk keeps a cursor on the next one,
// hops over the fields before it (HopAscii), passes over a string or message with none in
// it, and leaves a message as soon as none is left in it. The cursor looks at each byte
// once, a word at a time; the walk reads fields in full only on the way to such a byte.
Strings WalkMessage(const StringTable& root, const char* p, const char* const end) {
  const auto first_high = [end](const char* from) {  // the first byte >= 0x80 from `from`
    return from + api::internal::FindNonAscii(std::string_view(from, end - from));
  };
  const StringTable* outer_tables[kMaxDepth];  // the messages around the current one
  const char* outer_ends[kMaxDepth];
  int depth = 0;
  const StringTable* table = &root;
  const char* limit = end;  // of the current message; every read below stays within it
  const char* high = first_high(p);
  for (;;) {
    if (high < p) high = first_high(p);
    if (high >= limit) {  // the rest of this message is ASCII
      if (depth == 0) return Strings::kValid;
      p = limit;
      --depth;
      table = outer_tables[depth];
      limit = outer_ends[depth];
      continue;
    }
    p = HopAscii(p, high);  // to the field that holds the high byte (or one it cannot hop)
    const Varint tag = ReadVarint(p, limit);
    if (tag.next == nullptr) return Strings::kUnknown;
    if ((tag.value & 7) != kLengthDelimited) {
      p = (tag.value & 7) == kVarint ? SkipVarint(tag.next, limit)  // the most common, inline
                                     : SkipValue(tag.value, tag.next, limit, depth);
      if (p == nullptr) return Strings::kUnknown;
      continue;
    }
    const Varint length = ReadVarint(tag.next, limit);
    if (length.next == nullptr || length.value > static_cast<uint64_t>(limit - length.next)) {
      return Strings::kUnknown;
    }
    const StringTable::Action action = table->Find(tag.value >> 3);
    const char* const body = length.next;
    p = body + length.value;
    if (action == StringTable::kSkip) continue;
    if (high < body) high = first_high(body);  // it was in the tag or the length
    if (high >= p) continue;                   // all ASCII
    if (action == StringTable::kText) {
      if (!api::internal::IsValidUtf8(std::string_view(body, p - body))) return Strings::kNotUtf8;
      continue;
    }
    if (depth == kMaxDepth) return Strings::kUnknown;
    outer_tables[depth] = table;
    outer_ends[depth] = limit;
    ++depth;
    table = reinterpret_cast<const StringTable*>(action);
    limit = p;
    p = body;  // into it
  }
}

// ---------------------------------------------------------------- naming the field

// A map key as a path shows it; a key that is not UTF-8 is shown with its bytes escaped
// ("\xff"), so that the error is UTF-8 itself.
std::string KeyText(const Message& entry, const FieldDescriptor& key) {
  const Reflection& reflection = *entry.GetReflection();
  switch (key.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(reflection.GetInt32(entry, &key));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(reflection.GetInt64(entry, &key));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(reflection.GetUInt32(entry, &key));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(reflection.GetUInt64(entry, &key));
    case FieldDescriptor::CPPTYPE_BOOL:
      return reflection.GetBool(entry, &key) ? "true" : "false";
    default:
      break;
  }
  std::string text = reflection.GetString(entry, &key);
  if (api::internal::IsValidUtf8(text)) return text;
  std::string escaped;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7F) {
      escaped.push_back(static_cast<char>(c));
    } else {
      escaped += fmt::format("\\x{:02x}", c);
    }
  }
  return escaped;
}

std::optional<std::string> FindInMessage(const Message& message, const std::string& path);

// One value of `field` of `message` (element `index` of a repeated field, -1 otherwise),
// whose path is `path`.
std::optional<std::string> FindInValue(const Message& message, const FieldDescriptor& field,
                                       int index, const std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  if (IsText(field)) {
    std::string scratch;
    const std::string& text =
        index < 0 ? reflection.GetStringReference(message, &field, &scratch)
                  : reflection.GetRepeatedStringReference(message, &field, index, &scratch);
    if (api::internal::IsValidUtf8(text)) return std::nullopt;
    return path;
  }
  if (field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
  return FindInMessage(index < 0 ? reflection.GetMessage(message, &field)
                                 : reflection.GetRepeatedMessage(message, &field, index),
                       path);
}

std::optional<std::string> FindInMap(const Message& message, const FieldDescriptor& field,
                                     const std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  const FieldDescriptor& key = *field.message_type()->map_key();
  const FieldDescriptor& value = *field.message_type()->map_value();
  std::vector<std::pair<std::string, const Message*>> entries;
  for (int i = 0; i < reflection.FieldSize(message, &field); ++i) {
    const Message& entry = reflection.GetRepeatedMessage(message, &field, i);
    entries.emplace_back(KeyText(entry, key), &entry);
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& [key_text, entry] : entries) {
    const std::string entry_path = api::Key(path, key_text);
    if (std::optional<std::string> found = FindInValue(*entry, key, -1, entry_path)) {
      return found;
    }
    if (std::optional<std::string> found = FindInValue(*entry, value, -1, entry_path)) {
      return found;
    }
  }
  return std::nullopt;
}

// The path of the first string in `message`, at `path`, that is not UTF-8.
std::optional<std::string> FindInMessage(const Message& message, const std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  // A quantity's string, a Struct's object: only map keys and list indexes name a place
  // in them.
  const bool json_value = api::codec_internal::IsJsonValueType(*message.GetDescriptor());
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);  // the fields set, by number
  for (const FieldDescriptor* field : fields) {
    const std::string field_path = json_value ? path : api::Child(path, field->json_name());
    std::optional<std::string> found;
    if (field->is_map()) {
      found = FindInMap(message, *field, field_path);
    } else if (field->is_repeated()) {
      for (int i = 0; i < reflection.FieldSize(message, field) && !found; ++i) {
        found = FindInValue(message, *field, i, api::Index(field_path, i));
      }
    } else {
      found = FindInValue(message, *field, -1, field_path);
    }
    if (found) return found;
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------- StringCheck

StringCheck::StringCheck(const api::Scheme& scheme) {
  for (const api::Kind* kind : scheme.kinds()) Build(*kind->prototype->GetDescriptor());
  Link();
}

StringCheck::~StringCheck() = default;

StringTable* StringCheck::Build(const Descriptor& type) {
  std::unique_ptr<StringTable>& slot = tables_[&type];
  if (slot != nullptr) return slot.get();
  slot = std::make_unique<StringTable>();
  StringTable* table = slot.get();  // stays put as the map grows below; `slot` may not
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    if (IsText(field)) {
      table->Set(field.number(), StringTable::kText);
      table->holds_strings = true;
    } else if (field.type() == FieldDescriptor::TYPE_MESSAGE) {
      table->messages.emplace_back(&field, Build(*field.message_type()));
    }
  }
  return table;
}

// Points each table at those of its message fields' types that hold a string at some
// depth; the others (timestamps, resource counts) are skipped like numbers.
void StringCheck::Link() {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [type, table] : tables_) {
      if (table->holds_strings) continue;
      for (const auto& [field, message] : table->messages) {
        if (message->holds_strings) {
          table->holds_strings = changed = true;
          break;
        }
      }
    }
  }
  for (auto& [type, table] : tables_) {
    for (const auto& [field, message] : table->messages) {
      if (message->holds_strings) {
        table->Set(field->number(), reinterpret_cast<StringTable::Action>(message));
      }
    }
    table->messages.clear();
    std::sort(table->far.begin(), table->far.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

StringCheck::Strings StringCheck::Walk(const Descriptor& type,
                                       std::string_view encoding) const {
  auto it = tables_.find(&type);
  if (it == tables_.end()) return Strings::kUnknown;
  return WalkMessage(*it->second, encoding.data(), encoding.data() + encoding.size());
}

absl::Status StringCheck::Check(const Message& object, std::string_view encoding) const {
  const Strings walked = Walk(*object.GetDescriptor(), encoding);
  if (walked == Strings::kValid) return absl::OkStatus();
  // Reflection names the field, on a copy: reading a map by reflection changes how the
  // message holds it, and a caller's pointer into that map would then go stale.
  std::unique_ptr<Message> copy(object.New());
  copy->CopyFrom(object);
  if (std::optional<std::string> path = FindInMessage(*copy, "")) {
    return absl::InvalidArgumentError(
        fmt::format("{}: Invalid value: must be valid UTF-8", *path));
  }
  if (walked == Strings::kUnknown) return absl::OkStatus();  // nothing the walk could follow
  // A string reflection does not see: an unknown field under a string field's number.
  return absl::InvalidArgumentError(fmt::format(
      "{}: Invalid value: holds a string that is not valid UTF-8 in a field it does not know",
      object.GetDescriptor()->full_name()));
}

}  // namespace orch::client::internal
