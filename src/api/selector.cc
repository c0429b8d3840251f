#include "orch/api/selector.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "orch/base/status.h"

namespace orch::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Labels = google::protobuf::Map<std::string, std::string>;

absl::Status Invalid(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// ------------------------------------------------------------------ label syntax checks
// Kubernetes' qualified names, label values and DNS-1123 subdomains, checked by hand so the
// hot paths need no regex engine.

constexpr std::string_view kQualifiedNameRegex = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelValueRegex = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kSubdomainRegex =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxSubdomainLength = 253;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedName(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool IsDnsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool MatchesSubdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || !IsDnsLabelChar(label.front()) || !IsDnsLabelChar(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsDnsLabelChar(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string RegexError(std::string_view message, std::string_view regex,
                       std::initializer_list<std::string_view> examples) {
  std::string out = fmt::format("{} (e.g. ", message);
  bool first = true;
  for (std::string_view example : examples) {
    if (!first) out += " or ";
    first = false;
    out += fmt::format("'{}', ", example);
  }
  out += fmt::format("regex used for validation is '{}')", regex);
  return out;
}

std::string QualifiedNameRegexError() {
  return RegexError(
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
      "an alphanumeric character",
      kQualifiedNameRegex, {"MyName", "my.name", "123-abc"});
}

// Kubernetes' IsQualifiedName: [DNS-subdomain "/"] name. Returns every problem found.
std::vector<std::string> QualifiedNameErrors(std::string_view key) {
  std::vector<std::string> errors;
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      errors.push_back("a qualified name " + QualifiedNameRegexError() +
                       " with an optional DNS subdomain prefix and '/' (e.g. "
                       "'example.com/MyName')");
      return errors;
    }
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > kMaxSubdomainLength) {
        errors.push_back(
            fmt::format("prefix part must be no more than {} characters", kMaxSubdomainLength));
      }
      if (!MatchesSubdomain(prefix)) {
        errors.push_back(
            "prefix part " +
            RegexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                       "characters, '-' or '.', and must start and end with an alphanumeric "
                       "character",
                       kSubdomainRegex, {"example.com"}));
      }
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > kMaxNameLength) {
    errors.push_back(fmt::format("name part must be no more than {} characters", kMaxNameLength));
  }
  if (!MatchesQualifiedName(name)) errors.push_back("name part " + QualifiedNameRegexError());
  return errors;
}

std::vector<std::string> LabelValueErrors(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kMaxNameLength) {
    errors.push_back(fmt::format("must be no more than {} characters", kMaxNameLength));
  }
  if (!value.empty() && !MatchesQualifiedName(value)) {
    errors.push_back(RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        kLabelValueRegex, {"MyValue", "my_value", "12345"}));
  }
  return errors;
}

// Collects field errors the way Kubernetes aggregates them: one error reads as itself,
// several as "[first, second]".
class ErrorList {
 public:
  void Invalid(std::string_view path, std::string_view value,
               const std::vector<std::string>& details) {
    if (details.empty()) return;
    std::string detail;
    for (const std::string& d : details) detail += (detail.empty() ? "" : "; ") + d;
    errors_.push_back(fmt::format("{}: Invalid value: \"{}\": {}", path, value, detail));
  }
  void Add(std::string error) { errors_.push_back(std::move(error)); }
  bool empty() const { return errors_.empty(); }
  std::string ToString() const {
    if (errors_.size() == 1) return errors_.front();
    std::string out = "[";
    for (size_t i = 0; i < errors_.size(); ++i) out += (i ? ", " : "") + errors_[i];
    return out + "]";
  }

 private:
  std::vector<std::string> errors_;
};

std::optional<int64_t> ParseInt64(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

using Operator = LabelSelector::Operator;
using Requirement = LabelSelector::Requirement;

void Normalize(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

// Kubernetes' NewRequirement checks (key syntax, value syntax, Gt/Lt integers) for a
// requirement whose value count is already right.
void CheckRequirement(const Requirement& r, std::string_view path_prefix, ErrorList& errors) {
  errors.Invalid(fmt::format("{}key", path_prefix), r.key, QualifiedNameErrors(r.key));
  for (size_t i = 0; i < r.values.size(); ++i) {
    const std::string& value = r.values[i];
    if ((r.op == Operator::kGt || r.op == Operator::kLt) && !ParseInt64(value)) {
      errors.Invalid(fmt::format("{}values[{}]", path_prefix, i), value,
                     {"for 'Gt', 'Lt' operators, the value must be an integer"});
    }
    errors.Invalid(fmt::format("{}values[{}][{}]", path_prefix, i, r.key), value,
                   LabelValueErrors(value));
  }
}

bool RequirementLess(const Requirement& a, const Requirement& b) {
  if (a.key != b.key) return a.key < b.key;
  if (a.op != b.op) return a.op < b.op;
  return a.values < b.values;
}

bool RequirementMatches(const Requirement& r, const Labels& labels) {
  auto it = labels.find(r.key);
  const bool present = it != labels.end();
  auto has_value = [&] {
    return std::binary_search(r.values.begin(), r.values.end(), it->second);
  };
  switch (r.op) {
    case Operator::kEquals:
    case Operator::kIn:
      return present && has_value();
    case Operator::kNotEquals:
    case Operator::kNotIn:
      return !present || !has_value();
    case Operator::kExists:
      return present;
    case Operator::kDoesNotExist:
      return !present;
    case Operator::kGt:
    case Operator::kLt: {
      if (!present || r.values.size() != 1) return false;
      std::optional<int64_t> have = ParseInt64(it->second);
      std::optional<int64_t> want = ParseInt64(r.values.front());
      if (!have || !want) return false;
      return r.op == Operator::kGt ? *have > *want : *have < *want;
    }
  }
  return false;
}

// ------------------------------------------------------------------ label selector text

enum class Token {
  kEnd, kIdentifier, kIn, kNotIn, kOpenParen, kCloseParen, kComma,
  kNot, kEquals, kDoubleEquals, kNotEquals, kGreater, kLess,
};

struct Item {
  Token token;
  std::string_view text;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

// Splits selector text into tokens. `in` and `notin` are keywords only where an operator
// may stand; the parser reads them as identifiers elsewhere (`a in (in)`).
std::vector<Item> Tokenize(std::string_view text) {
  std::vector<Item> items;
  size_t i = 0;
  while (true) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i == text.size()) break;
    const size_t start = i;
    if (IsSymbol(text[i])) {
      const bool two = i + 1 < text.size() && text[i + 1] == '=' &&
                       (text[i] == '=' || text[i] == '!');
      i += two ? 2 : 1;
      std::string_view symbol = text.substr(start, i - start);
      Token token = Token::kComma;
      if (symbol == "==") token = Token::kDoubleEquals;
      else if (symbol == "!=") token = Token::kNotEquals;
      else if (symbol == "=") token = Token::kEquals;
      else if (symbol == "!") token = Token::kNot;
      else if (symbol == "(") token = Token::kOpenParen;
      else if (symbol == ")") token = Token::kCloseParen;
      else if (symbol == ">") token = Token::kGreater;
      else if (symbol == "<") token = Token::kLess;
      items.push_back({token, symbol});
      continue;
    }
    while (i < text.size() && !IsSpace(text[i]) && !IsSymbol(text[i])) ++i;
    std::string_view word = text.substr(start, i - start);
    Token token = word == "in" ? Token::kIn : word == "notin" ? Token::kNotIn : Token::kIdentifier;
    items.push_back({token, word});
  }
  items.push_back({Token::kEnd, {}});
  return items;
}

// Recursive descent over Kubernetes' grammar:
//   selector    := requirement ("," requirement)*
//   requirement := ["!"] KEY [ ("in"|"notin") "(" values ")" | ("="|"=="|"!="|">"|"<") VALUE ]
class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : items_(Tokenize(text)) {}

  absl::StatusOr<std::vector<Requirement>> Parse() {
    std::vector<Requirement> requirements;
    while (true) {
      Item next = PeekValue();
      if (next.token == Token::kEnd) return requirements;
      if (next.token != Token::kIdentifier && next.token != Token::kNot) {
        return Invalid(
            fmt::format("found '{}', expected: !, identifier, or 'end of string'", next.text));
      }
      absl::StatusOr<Requirement> requirement = ParseRequirement();
      if (!requirement.ok()) {
        return Invalid(fmt::format("unable to parse requirement: {}",
                                   std::string(requirement.status().message())));
      }
      requirements.push_back(*std::move(requirement));
      Item separator = NextValue();
      if (separator.token == Token::kEnd) return requirements;
      if (separator.token != Token::kComma) {
        return Invalid(fmt::format("found '{}', expected: ',' or 'end of string'",
                                   separator.text));
      }
      Item after = PeekValue();
      if (after.token != Token::kIdentifier && after.token != Token::kNot) {
        return Invalid(fmt::format("found '{}', expected: identifier after ','", after.text));
      }
    }
  }

 private:
  // In value position the keywords are ordinary words.
  static Item AsValue(Item item) {
    if (item.token == Token::kIn || item.token == Token::kNotIn) item.token = Token::kIdentifier;
    return item;
  }
  Item PeekValue() const { return AsValue(items_[pos_]); }
  Item NextValue() { return AsValue(items_[pos_ < items_.size() - 1 ? pos_++ : pos_]); }
  Item NextOperator() { return items_[pos_ < items_.size() - 1 ? pos_++ : pos_]; }

  absl::StatusOr<Requirement> ParseRequirement() {
    Requirement r;
    Item first = NextValue();
    bool negated = false;
    if (first.token == Token::kNot) {
      negated = true;
      first = NextValue();
    }
    if (first.token != Token::kIdentifier) {
      return Invalid(fmt::format("found '{}', expected: identifier", first.text));
    }
    r.key = std::string(first.text);
    Token after = PeekValue().token;
    if (negated || after == Token::kEnd || after == Token::kComma) {
      r.op = negated ? Operator::kDoesNotExist : Operator::kExists;
      return Checked(std::move(r));
    }
    Item op = NextOperator();
    switch (op.token) {
      case Token::kIn: r.op = Operator::kIn; break;
      case Token::kNotIn: r.op = Operator::kNotIn; break;
      case Token::kEquals:
      case Token::kDoubleEquals: r.op = Operator::kEquals; break;
      case Token::kNotEquals: r.op = Operator::kNotEquals; break;
      case Token::kGreater: r.op = Operator::kGt; break;
      case Token::kLess: r.op = Operator::kLt; break;
      default:
        return Invalid(
            fmt::format("found '{}', expected: in, notin, =, ==, !=, gt, lt", op.text));
    }
    absl::Status values = (r.op == Operator::kIn || r.op == Operator::kNotIn)
                              ? ParseValueSet(r.values)
                              : ParseExactValue(r.values);
    if (!values.ok()) return values;
    return Checked(std::move(r));
  }

  static absl::StatusOr<Requirement> Checked(Requirement r) {
    Normalize(r.values);
    ErrorList errors;
    CheckRequirement(r, "", errors);
    if (!errors.empty()) return Invalid(errors.ToString());
    return r;
  }

  // "(" [values] ")": empty entries are the empty string, so "()" and "(a,)" hold "".
  absl::Status ParseValueSet(std::vector<std::string>& values) {
    Item open = NextValue();
    if (open.token != Token::kOpenParen) {
      return Invalid(fmt::format("found '{}' expected: '('", open.text));
    }
    Item next = PeekValue();
    if (next.token == Token::kCloseParen) {
      NextValue();
      values.emplace_back();
      return absl::OkStatus();
    }
    if (next.token != Token::kIdentifier && next.token != Token::kComma) {
      return Invalid(fmt::format("found '{}', expected: ',', ')' or identifier", next.text));
    }
    bool expect_value = true;  // a value may stand here; "," or ")" instead means ""
    while (true) {
      Item item = NextValue();
      if (item.token == Token::kIdentifier && expect_value) {
        values.emplace_back(item.text);
        expect_value = false;
        Item following = PeekValue();
        if (following.token != Token::kComma && following.token != Token::kCloseParen) {
          return Invalid(fmt::format("found '{}', expected: ',' or ')'", following.text));
        }
      } else if (item.token == Token::kComma) {
        if (expect_value) values.emplace_back();
        expect_value = true;
      } else if (item.token == Token::kCloseParen) {
        if (expect_value) values.emplace_back();
        return absl::OkStatus();
      } else {
        return Invalid(fmt::format("found '{}', expected: ',', or identifier", item.text));
      }
    }
  }

  absl::Status ParseExactValue(std::vector<std::string>& values) {
    Token next = PeekValue().token;
    if (next == Token::kEnd || next == Token::kComma) {
      values.emplace_back();
      return absl::OkStatus();
    }
    Item value = NextValue();
    if (value.token != Token::kIdentifier) {
      return Invalid(fmt::format("found '{}', expected: identifier", value.text));
    }
    values.emplace_back(value.text);
    return absl::OkStatus();
  }

  std::vector<Item> items_;
  size_t pos_ = 0;
};

// ------------------------------------------------------------------ field selectors

constexpr std::string_view kFieldOperators[] = {"!=", "==", "="};

// Splits on commas not escaped by a backslash.
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  if (text.empty()) return terms;
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (text[i] == '\\') {
      escaped = true;
    } else if (text[i] == ',') {
      terms.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(text.substr(start));
  return terms;
}

absl::StatusOr<std::string> UnescapeFieldValue(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '\\') {
      if (i + 1 == escaped.size()) {
        return Invalid("invalid field selector: invalid escape sequence: \\");
      }
      char next = escaped[++i];
      if (next != '\\' && next != ',' && next != '=') {
        return Invalid(
            fmt::format("invalid field selector: invalid escape sequence: \\{}", next));
      }
      out.push_back(next);
    } else if (c == ',' || c == '=') {
      return Invalid(fmt::format("invalid field selector: unescaped character in value: {}", c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeFieldValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

const FieldDescriptor* FindByJsonName(const Descriptor& descriptor, std::string_view name) {
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor* field = descriptor.field(i);
    if (field->json_name() == name) return field;
  }
  return nullptr;
}

bool IsScalar(const FieldDescriptor& field) {
  return !field.is_repeated() && field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
}

// Resolves a dotted JSON path to its fields, or an empty vector when some component is not
// a singular message (or, for the last one, not a singular scalar).
std::vector<const FieldDescriptor*> ResolvePath(const Descriptor& root, std::string_view path) {
  std::vector<const FieldDescriptor*> fields;
  const Descriptor* descriptor = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    bool last = dot == std::string_view::npos;
    std::string_view name = path.substr(start, last ? path.npos : dot - start);
    const FieldDescriptor* field = descriptor ? FindByJsonName(*descriptor, name) : nullptr;
    if (field == nullptr || field->is_repeated()) return {};
    fields.push_back(field);
    if (last) return IsScalar(*field) ? fields : std::vector<const FieldDescriptor*>{};
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return {};
    descriptor = field->message_type();
    start = dot + 1;
  }
}

// A scalar field as field selectors compare it; unset fields read as their zero value.
std::string ScalarText(const Message& message, const FieldDescriptor& field) {
  const Reflection& r = *message.GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: return r.GetString(message, &field);
    case FieldDescriptor::CPPTYPE_BOOL: return r.GetBool(message, &field) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT32: return fmt::format("{}", r.GetInt32(message, &field));
    case FieldDescriptor::CPPTYPE_INT64: return fmt::format("{}", r.GetInt64(message, &field));
    case FieldDescriptor::CPPTYPE_UINT32: return fmt::format("{}", r.GetUInt32(message, &field));
    case FieldDescriptor::CPPTYPE_UINT64: return fmt::format("{}", r.GetUInt64(message, &field));
    case FieldDescriptor::CPPTYPE_FLOAT: return fmt::format("{}", r.GetFloat(message, &field));
    case FieldDescriptor::CPPTYPE_DOUBLE: return fmt::format("{}", r.GetDouble(message, &field));
    case FieldDescriptor::CPPTYPE_ENUM: return r.GetEnum(message, &field)->name();
    case FieldDescriptor::CPPTYPE_MESSAGE: break;
  }
  return {};
}

}  // namespace

// ------------------------------------------------------------------ LabelSelector

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelParser parser(text);
  ORCH_ASSIGN_OR_RETURN(std::vector<Requirement> requirements, parser.Parse());
  std::sort(requirements.begin(), requirements.end(), RequirementLess);
  LabelSelector selector;
  selector.requirements_ = std::move(requirements);
  return selector;
}

absl::StatusOr<LabelSelector> LabelSelector::FromProto(const v1::LabelSelector& proto) {
  ErrorList errors;
  std::vector<Requirement> requirements;
  // Sorted, so that errors come out in the same order every time.
  std::vector<std::pair<std::string, std::string>> match_labels(proto.match_labels().begin(),
                                                                proto.match_labels().end());
  std::sort(match_labels.begin(), match_labels.end());
  for (const auto& [key, value] : match_labels) {
    errors.Invalid("matchLabels", key, QualifiedNameErrors(key));
    errors.Invalid(fmt::format("matchLabels[{}]", key), value, LabelValueErrors(value));
    requirements.push_back({key, Operator::kEquals, {value}});
  }
  for (int i = 0; i < proto.match_expressions_size(); ++i) {
    const v1::LabelSelectorRequirement& expression = proto.match_expressions(i);
    const std::string path = fmt::format("matchExpressions[{}].", i);
    Requirement r{expression.key(), Operator::kIn,
                  {expression.values().begin(), expression.values().end()}};
    const std::string& op = expression.operator_();
    if (op == "In" || op == "NotIn") {
      r.op = op == "In" ? Operator::kIn : Operator::kNotIn;
      if (r.values.empty()) {
        errors.Add(path + "values: Required value: must be specified when `operator` is 'In' "
                          "or 'NotIn'");
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      r.op = op == "Exists" ? Operator::kExists : Operator::kDoesNotExist;
      if (!r.values.empty()) {
        errors.Add(path + "values: Forbidden: may not be specified when `operator` is 'Exists' "
                          "or 'DoesNotExist'");
      }
    } else {
      errors.Add(fmt::format("{}operator: Unsupported value: \"{}\": supported values: \"In\", "
                             "\"NotIn\", \"Exists\", \"DoesNotExist\"",
                             path, op));
      continue;
    }
    CheckRequirement(r, path, errors);
    Normalize(r.values);
    requirements.push_back(std::move(r));
  }
  if (!errors.empty()) return Invalid(errors.ToString());
  std::sort(requirements.begin(), requirements.end(), RequirementLess);
  LabelSelector selector;
  selector.requirements_ = std::move(requirements);
  return selector;
}

LabelSelector LabelSelector::FromMap(const Labels& labels) {
  LabelSelector selector;
  selector.requirements_.reserve(labels.size());
  for (const auto& [key, value] : labels) {
    selector.requirements_.push_back({key, Operator::kEquals, {value}});
  }
  std::sort(selector.requirements_.begin(), selector.requirements_.end(), RequirementLess);
  return selector;
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const Requirement& r : requirements_) {
    if (!RequirementMatches(r, labels)) return false;
  }
  return true;
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const Requirement& r : requirements_) {
    if (!out.empty()) out += ',';
    auto joined = [&] {
      std::string values;
      for (size_t i = 0; i < r.values.size(); ++i) values += (i ? "," : "") + r.values[i];
      return values;
    };
    const std::string value = r.values.empty() ? "" : r.values.front();
    switch (r.op) {
      case Operator::kEquals: out += r.key + "=" + value; break;
      case Operator::kNotEquals: out += r.key + "!=" + value; break;
      case Operator::kGt: out += r.key + ">" + value; break;
      case Operator::kLt: out += r.key + "<" + value; break;
      case Operator::kIn: out += r.key + " in (" + joined() + ")"; break;
      case Operator::kNotIn: out += r.key + " notin (" + joined() + ")"; break;
      case Operator::kExists: out += r.key; break;
      case Operator::kDoesNotExist: out += "!" + r.key; break;
    }
  }
  return out;
}

// ------------------------------------------------------------------ FieldSelector

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  std::vector<std::string_view> terms = SplitTerms(text);
  std::sort(terms.begin(), terms.end());
  FieldSelector selector;
  for (std::string_view term : terms) {
    if (term.empty()) continue;
    // The path cannot be escaped, so the first operator in the term splits it.
    std::optional<std::pair<size_t, std::string_view>> split;
    for (size_t i = 0; i < term.size() && !split; ++i) {
      for (std::string_view op : kFieldOperators) {
        if (term.substr(i, op.size()) == op) {
          split.emplace(i, op);
          break;
        }
      }
    }
    if (!split) {
      return Invalid(fmt::format("invalid selector: '{}'; can't understand '{}'", text, term));
    }
    const auto [at, op] = *split;
    ORCH_ASSIGN_OR_RETURN(std::string value, UnescapeFieldValue(term.substr(at + op.size())));
    selector.requirements_.push_back({std::string(term.substr(0, at)), op != "!=",
                                      std::move(value)});
  }
  return selector;
}

absl::Status FieldSelector::Validate(const Descriptor& descriptor) const {
  for (const Requirement& r : requirements_) {
    if (ResolvePath(descriptor, r.path).empty()) {
      return Invalid(fmt::format("field label not supported: {}", r.path));
    }
  }
  return absl::OkStatus();
}

bool FieldSelector::Matches(const Message& object) const {
  for (const Requirement& r : requirements_) {
    std::vector<const FieldDescriptor*> fields = ResolvePath(*object.GetDescriptor(), r.path);
    if (fields.empty()) return false;  // not validated: match nothing rather than guess
    const Message* message = &object;
    for (size_t i = 0; i + 1 < fields.size(); ++i) {
      message = &message->GetReflection()->GetMessage(*message, fields[i]);
    }
    const bool equal = ScalarText(*message, *fields.back()) == r.value;
    if (equal != r.equals) return false;
  }
  return true;
}

std::string FieldSelector::ToString() const {
  std::string out;
  for (const Requirement& r : requirements_) {
    if (!out.empty()) out += ',';
    out += r.path + (r.equals ? "=" : "!=") + EscapeFieldValue(r.value);
  }
  return out;
}

}  // namespace orch::api
