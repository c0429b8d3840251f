// Node tree -> YAML (block style, as kubectl prints) and JSON text.
//
// A string is written unquoted only when that is certain to read back as the same string
// (by this codec and by go-yaml/kubectl); everything else is double-quoted, with escapes
// for whatever YAML or JSON readers could mangle (control characters, line separators).
#include <string>
#include <string_view>

#include "api/codec_internal.h"
#include "fmt/format.h"

namespace orch::api::codec_internal {
namespace {

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool CanWritePlain(std::string_view text, bool key) {
  if (text.empty()) return false;
  const char first = text.front();
  // A value may start with '-' ("--port=80") when a plain character follows; "-", "- x"
  // and "---" would read as YAML syntax.
  const bool dash_start = !key && first == '-' && text.size() > 1 &&
                          (IsAlnum(text[1]) || text[1] == '_' || text[1] == '=' ||
                           (text[1] == '-' && text.rfind("---", 0) != 0));
  if (!(IsAlnum(first) || first == '_' || first == '/' || dash_start)) return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (IsAlnum(c) || c == '_' || c == '.' || c == '/' || c == '-') continue;
    if (!key && (c == '@' || c == '+' || c == '=')) continue;
    if (!key && c == ':' && i + 1 < text.size()) continue;  // "nginx:1.14", not "a:"
    return false;
  }
  // Digits with '-' or ':' could be a YAML 1.1 timestamp or sexagesimal number elsewhere.
  if (first >= '0' && first <= '9' && text.find_first_of("-:") != std::string_view::npos) {
    return false;
  }
  return ResolvePlain(text).type == PlainValue::Type::kString;
}

// Decodes the UTF-8 sequence at text[i] (valid UTF-8 is a precondition), advancing i.
uint32_t NextCodePoint(std::string_view text, std::size_t& i) {
  const unsigned char lead = static_cast<unsigned char>(text[i]);
  int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  uint32_t code_point = length == 1 ? lead : lead & (0xFF >> (length + 1));
  for (int k = 1; k < length && i + k < text.size(); ++k) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  }
  i += length;
  return code_point;
}

// A double-quoted string; the escapes used are common to YAML and JSON.
void AppendQuoted(std::string_view text, std::string& out) {
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    const uint32_t c = NextCodePoint(text, i);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\t': out += "\\t"; continue;
      case '\r': out += "\\r"; continue;
      default: break;
    }
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 || c == 0xFEFF ||
        c == 0xFFFE || c == 0xFFFF) {
      out += fmt::format("\\u{:04X}", c);
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  out += '"';
}

void AppendYamlScalar(const Node& node, bool key, std::string& out) {
  if (node.type == Node::Type::kNull) {
    out += "null";
  } else if (node.plain || CanWritePlain(node.text, key)) {
    out += node.text;
  } else {
    AppendQuoted(node.text, out);
  }
}

void WriteYamlMapping(const Node& mapping, int indent, bool first_inline, std::string& out);
void WriteYamlSequence(const Node& sequence, int indent, std::string& out);

// Writes what follows "key:" or "-": a scalar on the same line, or a nested collection
// on the next lines (a mapping's entries at `mapping_indent`, a sequence's dashes at
// `sequence_indent`; kubectl puts a sequence's dashes level with its key).
void WriteYamlBlockValue(const Node& value, int mapping_indent, int sequence_indent,
                         std::string& out) {
  if (value.type == Node::Type::kMapping && !value.entries.empty()) {
    out += '\n';
    WriteYamlMapping(value, mapping_indent, false, out);
  } else if (value.type == Node::Type::kSequence && !value.items.empty()) {
    out += '\n';
    WriteYamlSequence(value, sequence_indent, out);
  } else {
    out += ' ';
    if (value.type == Node::Type::kMapping) {
      out += "{}";
    } else if (value.type == Node::Type::kSequence) {
      out += "[]";
    } else {
      AppendYamlScalar(value, false, out);
    }
    out += '\n';
  }
}

void WriteYamlMapping(const Node& mapping, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (const auto& [key, value] : mapping.entries) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    AppendYamlScalar(*MakeScalar(key, false), true, out);
    out += ':';
    WriteYamlBlockValue(*value, indent + 2, indent, out);
  }
}

void WriteYamlSequence(const Node& sequence, int indent, std::string& out) {
  for (const NodePtr& item : sequence.items) {
    out.append(indent, ' ');
    out += '-';
    if (item->type == Node::Type::kMapping && !item->entries.empty()) {
      out += ' ';
      WriteYamlMapping(*item, indent + 2, true, out);
    } else {
      WriteYamlBlockValue(*item, indent + 2, indent + 2, out);
    }
  }
}

void WriteJsonValue(const Node& node, bool pretty, int indent, std::string& out) {
  const auto newline = [&](int level) {
    if (!pretty) return;
    out += '\n';
    out.append(level, ' ');
  };
  switch (node.type) {
    case Node::Type::kNull:
      out += "null";
      return;
    case Node::Type::kScalar:
      if (node.plain) {
        out += node.text;
      } else {
        AppendQuoted(node.text, out);
      }
      return;
    case Node::Type::kSequence: {
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i > 0) out += ',';
        newline(indent + 2);
        WriteJsonValue(*node.items[i], pretty, indent + 2, out);
      }
      if (!node.items.empty()) newline(indent);
      out += ']';
      return;
    }
    case Node::Type::kMapping: {
      out += '{';
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i > 0) out += ',';
        newline(indent + 2);
        AppendQuoted(node.entries[i].first, out);
        out += pretty ? ": " : ":";
        WriteJsonValue(*node.entries[i].second, pretty, indent + 2, out);
      }
      if (!node.entries.empty()) newline(indent);
      out += '}';
      return;
    }
  }
}

}  // namespace

bool KeyFitsYaml(std::string_view key) {
  // Quoting turns one byte into at most six characters ("\u0001"), plus the quotes.
  if (key.size() * 6 + 2 <= kMaxKeyLength) return true;
  std::string quoted;
  AppendQuoted(key, quoted);
  return quoted.size() <= kMaxKeyLength;
}

std::string WriteYaml(const Node& root) {
  std::string out;
  if (root.type == Node::Type::kMapping && !root.entries.empty()) {
    WriteYamlMapping(root, 0, false, out);
  } else if (root.type == Node::Type::kSequence && !root.items.empty()) {
    WriteYamlSequence(root, 0, out);
  } else if (root.type == Node::Type::kMapping) {
    out = "{}\n";
  } else if (root.type == Node::Type::kSequence) {
    out = "[]\n";
  } else {
    AppendYamlScalar(root, false, out);
    out += '\n';
  }
  return out;
}

std::string WriteJson(const Node& root, bool pretty) {
  std::string out;
  WriteJsonValue(root, pretty, 0, out);
  return out;
}

}  // namespace orch::api::codec_internal
