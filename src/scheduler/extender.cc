// HttpExtender (kube-scheduler's extender protocol over libcurl) and the scheduler's
// extender steps (kube-scheduler's findNodesThatPassExtenders, the extender part of
// prioritizeNodes, and extendersBinding).
#include "orch/scheduler/extender.h"

#include <curl/curl.h>

#include <cmath>
#include <mutex>
#include <string>
#include <utility>

#include "base/curl.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "google/protobuf/struct.pb.h"
#include "orch/api/codec.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"

namespace orch::scheduler {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// A reply larger than this is refused rather than buffered (a node list of 5,000 nodes is
// about 20 MiB of JSON).
constexpr std::size_t kMaxReplyBytes = 256u << 20;

absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// ---------------------------------------------------------------------------------------
// Reading replies: Go's encoding/json into kube-scheduler's extender types matches field
// names case-insensitively and ignores unknown fields; null leaves a field unset.

const Value* Member(const Value& object, std::string_view name) {
  if (object.kind_case() != Value::kStructValue) return nullptr;
  const auto& fields = object.struct_value().fields();
  if (auto exact = fields.find(std::string(name)); exact != fields.end()) {
    return exact->second.kind_case() == Value::kNullValue ? nullptr : &exact->second;
  }
  for (const auto& [key, value] : fields) {
    if (absl::EqualsIgnoreCase(AbslView(key), AbslView(name))) {
      return value.kind_case() == Value::kNullValue ? nullptr : &value;
    }
  }
  return nullptr;
}

std::string_view KindName(const Value& value) {
  switch (value.kind_case()) {
    case Value::kStructValue:
      return "object";
    case Value::kListValue:
      return "array";
    case Value::kStringValue:
      return "string";
    case Value::kNumberValue:
      return "number";
    case Value::kBoolValue:
      return "boolean";
    default:
      return "null";
  }
}

// Typed access to one reply, with errors naming the URL and the field.
class Reply {
 public:
  Reply(std::string url, Value root) : url_(std::move(url)), root_(std::move(root)) {}

  static absl::StatusOr<Reply> Parse(const std::string& url, const std::string& body) {
    if (absl::StripAsciiWhitespace(body).empty()) {
      return absl::UnavailableError(fmt::format("extender {}: malformed reply: empty", url));
    }
    Value root;
    absl::Status parsed = api::DecodeMessage(body, "reply", root);
    if (!parsed.ok()) {
      return absl::UnavailableError(
          fmt::format("extender {}: malformed {}", url, std::string(parsed.message())));
    }
    return Reply(url, std::move(root));
  }

  const Value& root() const { return root_; }

  absl::Status Malformed(std::string_view field, std::string_view problem) const {
    return absl::UnavailableError(
        fmt::format("extender {}: malformed reply: {}: {}", url_, field, problem));
  }
  absl::Status ExpectKind(const Value& value, Value::KindCase kind, std::string_view field,
                          std::string_view expected) const {
    if (value.kind_case() == kind) return absl::OkStatus();
    return Malformed(field, fmt::format("expected {}, got {}", expected, KindName(value)));
  }
  // An object reply; null reads as an empty one.
  absl::Status ExpectObject(const Value& value, std::string_view field) const {
    if (value.kind_case() == Value::KIND_NOT_SET || value.kind_case() == Value::kNullValue) {
      return absl::OkStatus();
    }
    return ExpectKind(value, Value::kStructValue, field, "object");
  }

  // The extender's own "Error" field, as a failed call.
  absl::Status ExtenderError() const {
    const Value* error = Member(root_, "Error");
    if (error == nullptr) return absl::OkStatus();
    ORCH_RETURN_IF_ERROR(ExpectKind(*error, Value::kStringValue, "Error", "string"));
    if (error->string_value().empty()) return absl::OkStatus();
    return absl::UnavailableError(fmt::format("extender {}: {}", url_, error->string_value()));
  }

  absl::StatusOr<std::map<std::string, std::string>> NameToReason(std::string_view field) const {
    std::map<std::string, std::string> out;
    const Value* value = Member(root_, field);
    if (value == nullptr) return out;
    ORCH_RETURN_IF_ERROR(ExpectKind(*value, Value::kStructValue, field, "object"));
    for (const auto& [key, item] : value->struct_value().fields()) {
      ORCH_RETURN_IF_ERROR(
          ExpectKind(item, Value::kStringValue, fmt::format("{}.{}", field, key), "string"));
      out.emplace(key, item.string_value());
    }
    return out;
  }

  absl::StatusOr<int64_t> Integer(const Value& value, std::string_view field) const {
    ORCH_RETURN_IF_ERROR(ExpectKind(value, Value::kNumberValue, field, "integer"));
    const double number = value.number_value();
    if (std::trunc(number) != number || std::fabs(number) >= 9.2e18) {
      return Malformed(field, fmt::format("expected integer, got {}", number));
    }
    return static_cast<int64_t>(number);
  }

 private:
  std::string url_;
  Value root_;
};

// ---------------------------------------------------------------------------------------
// Writing requests.

absl::StatusOr<std::string> JsonStrings(const std::vector<const NodeInfo*>& nodes) {
  Value names;
  ListValue& list = *names.mutable_list_value();
  for (const NodeInfo* node : nodes) list.add_values()->set_string_value(node->name());
  return api::EncodeJson(names);
}

absl::StatusOr<std::string> JsonNodeList(const std::vector<const NodeInfo*>& nodes) {
  std::string json = R"({"metadata":{},"items":[)";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(std::string node, api::EncodeJson(nodes[i]->node()));
    if (i > 0) json += ',';
    json += node;
  }
  json += "]}";
  return json;
}

bool RequestsAny(const google::protobuf::RepeatedPtrField<api::v1::Container>& containers,
                 const StringSet& resources) {
  for (const api::v1::Container& container : containers) {
    for (const auto& [name, quantity] : container.resources().requests()) {
      if (resources.contains(name)) return true;
    }
    for (const auto& [name, quantity] : container.resources().limits()) {
      if (resources.contains(name)) return true;
    }
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Transport: POSTs through a small pool of curl easy handles, so that concurrent calls
// do not wait for each other and each handle keeps its connection alive between calls.

class HttpExtender::Transport {
 public:
  struct Options {
    absl::Duration timeout;
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    bool insecure = false;
    // CURLOPT_CONNECT_TO entry when tlsConfig.serverName replaces the URL's host.
    std::string connect_to;
  };

  explicit Transport(Options options) : options_(std::move(options)) {}
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  ~Transport() {
    MutexLock lock(&mu_);
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  // The body of a 200 reply to a POST of `body` (JSON) to `url`; kUnavailable naming
  // `shown_url` otherwise.
  absl::StatusOr<std::string> Post(const std::string& url, const std::string& shown_url,
                                   const std::string& body) {
    CURL* handle = Acquire();
    if (handle == nullptr) {
      return absl::UnavailableError(
          fmt::format("extender {}: cannot create a curl handle", shown_url));
    }
    absl::StatusOr<std::string> reply = Perform(handle, url, shown_url, body);
    Release(handle);
    return reply;
  }

 private:
  struct Sink {
    std::string data;
    bool too_large = false;
  };

  static size_t Write(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const size_t bytes = size * count;
    if (sink->data.size() + bytes > kMaxReplyBytes) {
      sink->too_large = true;
      return 0;  // makes curl fail the transfer
    }
    sink->data.append(data, bytes);
    return bytes;
  }

  absl::StatusOr<std::string> Perform(CURL* handle, const std::string& url,
                                      const std::string& shown_url, const std::string& body) {
    Sink sink;
    char error[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    curl_slist* connect_to = options_.connect_to.empty()
                                 ? nullptr
                                 : curl_slist_append(nullptr, options_.connect_to.c_str());
    SetRequest(handle, url, body, headers, connect_to);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &Transport::Write);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
    const CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    // Release() resets the handle before anyone uses it again; until then nothing reads
    // these lists or this call's buffers.
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);

    if (sink.too_large) {
      return absl::UnavailableError(
          fmt::format("extender {}: reply larger than {} bytes", shown_url, kMaxReplyBytes));
    }
    if (code != CURLE_OK) {
      std::string detail = error[0] != '\0' ? error : curl_easy_strerror(code);
      if (code == CURLE_OPERATION_TIMEDOUT) {
        detail += fmt::format(" (httpTimeout {})", absl::FormatDuration(options_.timeout));
      }
      return absl::UnavailableError(fmt::format("extender {}: {}", shown_url, detail));
    }
    if (status != 200) {
      return absl::UnavailableError(fmt::format("extender {}: HTTP status {}", shown_url, status));
    }
    return std::move(sink.data);
  }

  // The request itself: a JSON POST with the timeout and TLS options of the extender.
  void SetRequest(CURL* handle, const std::string& url, const std::string& body,
                  curl_slist* headers, curl_slist* connect_to) const {
    const long timeout_ms =
        static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);  // connecting included
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);            // timeouts without SIGALRM: threads
    if (connect_to != nullptr) curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    if (!options_.cert_file.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLCERT, options_.cert_file.c_str());
    }
    if (!options_.key_file.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLKEY, options_.key_file.c_str());
    }
    if (options_.insecure) {
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }

  CURL* Acquire() {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* handle) {
    curl_easy_reset(handle);  // options go; the connection cache stays
    MutexLock lock(&mu_);
    idle_.push_back(handle);
  }

  const Options options_;
  Mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

namespace {

// With tlsConfig.serverName, requests go to a URL naming that server (so TLS checks the
// certificate against it) and CURLOPT_CONNECT_TO sends them to the configured host.
absl::Status ApplyServerName(const std::string& server_name, std::string& url_prefix,
                             std::string& connect_to) {
  CURLU* url = curl_url();
  if (url == nullptr) return absl::ResourceExhaustedError("out of memory parsing urlPrefix");
  absl::Status status;
  char* host = nullptr;
  char* port = nullptr;
  char* rewritten = nullptr;
  if (curl_url_set(url, CURLUPART_URL, url_prefix.c_str(), 0) != CURLUE_OK ||
      curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    status = absl::InvalidArgumentError(fmt::format("urlPrefix: invalid URL \"{}\"", url_prefix));
  } else if (curl_url_set(url, CURLUPART_HOST, server_name.c_str(), 0) != CURLUE_OK ||
             curl_url_get(url, CURLUPART_URL, &rewritten, 0) != CURLUE_OK) {
    status = absl::InvalidArgumentError(
        fmt::format("tlsConfig.serverName: invalid host name \"{}\"", server_name));
  } else {
    connect_to = fmt::format("{}:{}:{}:{}", server_name, port, host, port);
    url_prefix = rewritten;
  }
  curl_free(host);
  curl_free(port);
  curl_free(rewritten);
  curl_url_cleanup(url);
  return status;
}

}  // namespace

absl::StatusOr<absl::Duration> ExtenderHttpTimeout(const v1::Extender& config) {
  const std::string& text = config.http_timeout();
  if (text.empty()) return kDefaultExtenderTimeout;
  absl::Duration timeout;
  if (!absl::ParseDuration(AbslView(text), &timeout) || timeout == absl::InfiniteDuration() ||
      timeout == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid duration \"{}\": want a duration such as \"30s\" or \"500ms\"", text));
  }
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid duration \"{}\": must not be negative", text));
  }
  return timeout == absl::ZeroDuration() ? kDefaultExtenderTimeout : timeout;
}

absl::StatusOr<std::unique_ptr<HttpExtender>> HttpExtender::Create(const v1::Extender& config) {
  if (config.url_prefix().empty()) return absl::InvalidArgumentError("urlPrefix: required");
  if (!config.prioritize_verb().empty() && config.weight() <= 0) {
    return absl::InvalidArgumentError(fmt::format(
        "weight: invalid value {}: must have a positive weight applied to it", config.weight()));
  }
  absl::StatusOr<absl::Duration> timeout = ExtenderHttpTimeout(config);
  if (!timeout.ok()) return Annotate(timeout.status(), "httpTimeout");
  ::orch::internal::InitCurlOnce();

  std::string url_prefix = TrimTrailingSlashes(config.url_prefix());
  Transport::Options options;
  options.timeout = *timeout;
  const v1::ExtenderTLSConfig& tls = config.tls_config();
  options.ca_file = tls.ca_file();
  options.cert_file = tls.cert_file();
  options.key_file = tls.key_file();
  // kube-scheduler: HTTPS without a CA of its own does not verify the server.
  options.insecure = tls.insecure() || (config.enable_https() && tls.ca_file().empty());
  std::string request_prefix = url_prefix;
  if (!tls.server_name().empty()) {
    ORCH_RETURN_IF_ERROR(ApplyServerName(tls.server_name(), request_prefix, options.connect_to));
    request_prefix = TrimTrailingSlashes(std::move(request_prefix));
  }
  return std::unique_ptr<HttpExtender>(new HttpExtender(
      config, std::move(request_prefix), std::make_unique<Transport>(std::move(options))));
}

namespace {

StringSet ManagedResources(const v1::Extender& config) {
  StringSet managed;
  for (const v1::ExtenderManagedResource& resource : config.managed_resources()) {
    managed.insert(resource.name());
  }
  return managed;
}

}  // namespace

HttpExtender::HttpExtender(v1::Extender config, std::string request_prefix,
                           std::unique_ptr<Transport> transport)
    : config_(std::move(config)),
      url_prefix_(TrimTrailingSlashes(config_.url_prefix())),
      request_prefix_(std::move(request_prefix)),
      managed_resources_(ManagedResources(config_)),
      transport_(std::move(transport)) {}

HttpExtender::~HttpExtender() = default;

absl::StatusOr<std::string> HttpExtender::ArgsJson(
    const api::v1::Pod& pod, const std::vector<const NodeInfo*>& nodes) const {
  ORCH_ASSIGN_OR_RETURN(std::string pod_json, api::EncodeJson(pod));
  std::string nodes_json = "null";
  std::string names_json = "null";
  if (config_.node_cache_capable()) {
    ORCH_ASSIGN_OR_RETURN(names_json, JsonStrings(nodes));
  } else {
    ORCH_ASSIGN_OR_RETURN(nodes_json, JsonNodeList(nodes));
  }
  return fmt::format(R"({{"Pod":{},"Nodes":{},"NodeNames":{}}})", pod_json, nodes_json, names_json);
}

absl::StatusOr<std::string> HttpExtender::Call(std::string_view verb, const std::string& body,
                                               std::string* url) const {
  *url = fmt::format("{}/{}", url_prefix_, verb);
  return transport_->Post(fmt::format("{}/{}", request_prefix_, verb), *url, body);
}

absl::StatusOr<ExtenderFilterResult> HttpExtender::Filter(
    const api::v1::Pod& pod, const std::vector<const NodeInfo*>& nodes) {
  ExtenderFilterResult result;
  if (config_.filter_verb().empty()) {
    result.feasible = nodes;
    return result;
  }
  ORCH_ASSIGN_OR_RETURN(std::string args, ArgsJson(pod, nodes));
  std::string url;
  ORCH_ASSIGN_OR_RETURN(std::string body, Call(config_.filter_verb(), args, &url));
  ORCH_ASSIGN_OR_RETURN(Reply reply, Reply::Parse(url, body));
  ORCH_RETURN_IF_ERROR(reply.ExpectObject(reply.root(), "reply"));
  ORCH_RETURN_IF_ERROR(reply.ExtenderError());
  ORCH_ASSIGN_OR_RETURN(result.failed, reply.NameToReason("FailedNodes"));
  ORCH_ASSIGN_OR_RETURN(result.failed_and_unresolvable,
                        reply.NameToReason("FailedAndUnresolvableNodes"));

  StringMap<const NodeInfo*> by_name;
  for (const NodeInfo* node : nodes) by_name.emplace(node->name(), node);
  auto keep = [&](const std::string& name) -> absl::Status {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return absl::UnavailableError(fmt::format(
          "extender {} claims a filtered node \"{}\" which is not found in the input node list",
          url, name));
    }
    result.feasible.push_back(it->second);
    return absl::OkStatus();
  };
  const Value* names = config_.node_cache_capable() ? Member(reply.root(), "NodeNames") : nullptr;
  const Value* node_list = Member(reply.root(), "Nodes");
  if (names != nullptr) {
    ORCH_RETURN_IF_ERROR(reply.ExpectKind(*names, Value::kListValue, "NodeNames", "array"));
    for (int i = 0; i < names->list_value().values_size(); ++i) {
      const Value& name = names->list_value().values(i);
      ORCH_RETURN_IF_ERROR(
          reply.ExpectKind(name, Value::kStringValue, fmt::format("NodeNames[{}]", i), "string"));
      ORCH_RETURN_IF_ERROR(keep(name.string_value()));
    }
  } else if (node_list != nullptr) {
    ORCH_RETURN_IF_ERROR(reply.ExpectKind(*node_list, Value::kStructValue, "Nodes", "object"));
    const Value* items = Member(*node_list, "items");
    if (items != nullptr) {
      ORCH_RETURN_IF_ERROR(reply.ExpectKind(*items, Value::kListValue, "Nodes.items", "array"));
      for (int i = 0; i < items->list_value().values_size(); ++i) {
        const std::string field = fmt::format("Nodes.items[{}].metadata.name", i);
        const Value& item = items->list_value().values(i);
        const Value* metadata = Member(item, "metadata");
        const Value* name = metadata == nullptr ? nullptr : Member(*metadata, "name");
        if (name == nullptr) return reply.Malformed(field, "required");
        ORCH_RETURN_IF_ERROR(reply.ExpectKind(*name, Value::kStringValue, field, "string"));
        ORCH_RETURN_IF_ERROR(keep(name->string_value()));
      }
    }
  }
  // Neither: the extender kept no node, as kube-scheduler reads it.
  return result;
}

absl::StatusOr<ExtenderPriorities> HttpExtender::Prioritize(
    const api::v1::Pod& pod, const std::vector<const NodeInfo*>& nodes) {
  ExtenderPriorities result;
  if (config_.prioritize_verb().empty()) {
    for (const NodeInfo* node : nodes) result.hosts.push_back(HostPriority{node->name(), 0});
    return result;
  }
  ORCH_ASSIGN_OR_RETURN(std::string args, ArgsJson(pod, nodes));
  std::string url;
  ORCH_ASSIGN_OR_RETURN(std::string body, Call(config_.prioritize_verb(), args, &url));
  ORCH_ASSIGN_OR_RETURN(Reply reply, Reply::Parse(url, body));
  const Value& root = reply.root();
  if (root.kind_case() != Value::KIND_NOT_SET && root.kind_case() != Value::kNullValue) {
    ORCH_RETURN_IF_ERROR(reply.ExpectKind(root, Value::kListValue, "reply", "array"));
    for (int i = 0; i < root.list_value().values_size(); ++i) {
      const Value& entry = root.list_value().values(i);
      const std::string field = fmt::format("[{}]", i);
      ORCH_RETURN_IF_ERROR(reply.ExpectKind(entry, Value::kStructValue, field, "object"));
      HostPriority& host = result.hosts.emplace_back();
      if (const Value* name = Member(entry, "Host")) {
        ORCH_RETURN_IF_ERROR(
            reply.ExpectKind(*name, Value::kStringValue, field + ".Host", "string"));
        host.host = name->string_value();
      }
      if (const Value* score = Member(entry, "Score")) {
        ORCH_ASSIGN_OR_RETURN(host.score, reply.Integer(*score, field + ".Score"));
      }
    }
  }
  result.weight = config_.weight();
  return result;
}

absl::Status HttpExtender::Bind(std::string_view pod_uid, std::string_view pod_name,
                                std::string_view pod_namespace, std::string_view node) {
  if (!IsBinder()) {
    return absl::FailedPreconditionError(fmt::format("extender {}: has no bindVerb", url_prefix_));
  }
  Value args;
  auto& fields = *args.mutable_struct_value()->mutable_fields();
  fields["PodName"].set_string_value(std::string(pod_name));
  fields["PodNamespace"].set_string_value(std::string(pod_namespace));
  fields["PodUID"].set_string_value(std::string(pod_uid));
  fields["Node"].set_string_value(std::string(node));
  ORCH_ASSIGN_OR_RETURN(std::string json, api::EncodeJson(args));
  std::string url;
  ORCH_ASSIGN_OR_RETURN(std::string body, Call(config_.bind_verb(), json, &url));
  ORCH_ASSIGN_OR_RETURN(Reply reply, Reply::Parse(url, body));
  ORCH_RETURN_IF_ERROR(reply.ExpectObject(reply.root(), "reply"));
  return reply.ExtenderError();
}

bool HttpExtender::IsInterested(const api::v1::Pod& pod) const {
  if (managed_resources_.empty()) return true;
  return RequestsAny(pod.spec().containers(), managed_resources_) ||
         RequestsAny(pod.spec().init_containers(), managed_resources_);
}

absl::StatusOr<std::vector<std::unique_ptr<Extender>>> MakeExtenders(
    const v1::KubeSchedulerConfiguration& config) {
  std::vector<std::unique_ptr<Extender>> extenders;
  std::vector<std::unique_ptr<Extender>> ignorable;
  for (int i = 0; i < config.extenders_size(); ++i) {
    absl::StatusOr<std::unique_ptr<HttpExtender>> extender =
        HttpExtender::Create(config.extenders(i));
    if (!extender.ok()) return Annotate(extender.status(), fmt::format("extenders[{}]", i));
    (config.extenders(i).ignorable() ? ignorable : extenders).push_back(*std::move(extender));
  }
  // kube-scheduler's order: the ignorable extenders after all the others.
  for (auto& extender : ignorable) extenders.push_back(std::move(extender));
  return extenders;
}

std::vector<std::string> ExtenderIgnoredResources(const v1::KubeSchedulerConfiguration& config) {
  std::vector<std::string> ignored;
  for (const v1::Extender& extender : config.extenders()) {
    for (const v1::ExtenderManagedResource& resource : extender.managed_resources()) {
      if (resource.ignored_by_scheduler()) ignored.push_back(resource.name());
    }
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------
// The scheduler's extender steps.

namespace {

void AppendReason(NodeToStatus& statuses, const std::string& node, Code code,
                  const std::string& reason) {
  std::vector<std::string> reasons;
  if (auto it = statuses.find(node); it != statuses.end()) reasons = it->second.reasons();
  reasons.push_back(reason);
  statuses.insert_or_assign(node, Status(code, std::move(reasons)));
}

}  // namespace

absl::StatusOr<std::vector<const NodeInfo*>> FilterWithExtenders(
    const std::vector<Extender*>& extenders, const api::v1::Pod& pod,
    std::vector<const NodeInfo*> nodes, NodeToStatus& statuses) {
  for (Extender* extender : extenders) {
    if (nodes.empty()) break;
    if (!extender->IsInterested(pod)) continue;
    absl::StatusOr<ExtenderFilterResult> result = extender->Filter(pod, nodes);
    if (!result.ok()) {
      if (extender->IsIgnorable()) continue;
      return result.status();
    }
    for (const auto& [node, reason] : result->failed_and_unresolvable) {
      AppendReason(statuses, node, Code::kUnschedulableAndUnresolvable, reason);
    }
    for (const auto& [node, reason] : result->failed) {
      if (result->failed_and_unresolvable.contains(node)) continue;
      AppendReason(statuses, node, Code::kUnschedulable, reason);
    }
    nodes = std::move(result->feasible);
  }
  return nodes;
}

absl::flat_hash_map<std::string, int64_t> PrioritizeWithExtenders(
    const std::vector<Extender*>& extenders, const api::v1::Pod& pod,
    const std::vector<const NodeInfo*>& nodes) {
  absl::flat_hash_map<std::string, int64_t> totals;
  for (Extender* extender : extenders) {
    if (!extender->IsInterested(pod)) continue;
    absl::StatusOr<ExtenderPriorities> priorities = extender->Prioritize(pod, nodes);
    if (!priorities.ok()) continue;  // the plugins' and other extenders' scores decide
    for (const HostPriority& host : priorities->hosts) {
      totals[host.host] += ExtenderScoreContribution(host.score, priorities->weight);
    }
  }
  return totals;
}

absl::StatusOr<bool> BindWithExtenders(const std::vector<Extender*>& extenders,
                                       const api::v1::Pod& pod, std::string_view node) {
  for (Extender* extender : extenders) {
    if (!extender->IsBinder() || !extender->IsInterested(pod)) continue;
    const api::v1::ObjectMeta& metadata = pod.metadata();
    absl::Status bound =
        extender->Bind(metadata.uid(), metadata.name(), metadata.namespace_(), node);
    if (!bound.ok() && extender->IsIgnorable()) continue;
    ORCH_RETURN_IF_ERROR(bound);
    return true;
  }
  return false;
}

}  // namespace orch::scheduler
